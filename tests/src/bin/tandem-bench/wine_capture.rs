//! `tandem-bench wine-capture`: what one full-screen capture costs the Windows build under
//! Wine, beside the Linux build on the same Xvfb in the same run. Each method runs in its
//! own `tandem screens --time-capture` process; the figures are its capturing thread's
//! (wall and CPU time per frame, from the app) and the X server's CPU per frame (from
//! /proc, the difference between a run of N frames and a run of one, so start-up is not
//! counted). Under Wine the Windows build tries desktop duplication first; Wine 8 does not
//! implement it, so GDI is what runs (through Wine's X11 driver: `XGetImage` on Xvfb).
//! These are Wine figures, not Windows figures.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};
use tandem_tests::wine::Wine;
use tandem_tests::xvfb::{known_picture, Painter, Xvfb};

struct Row {
    build: &'static str,
    method: String,
    fallback: Option<String>,
    wall_p50: f64,
    wall_p95: f64,
    cpu_ms: f64,
    xvfb_ms: f64,
}

fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').context("stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).context("utime")?.parse::<f64>()?
        + fields.get(12).context("stime")?.parse::<f64>()?;
    // SAFETY: sysconf has no preconditions.
    Ok(ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64)
}

/// Runs `screens --json --time-capture frames` and returns its cost line and the X
/// server's CPU seconds meanwhile.
fn run_once(
    mut cmd: Command,
    capture: &str,
    frames: u32,
    xvfb_pid: u32,
) -> anyhow::Result<(serde_json::Value, f64)> {
    cmd.args(["screens", "--json", "--capture", capture])
        .args(["--time-capture", &frames.to_string()]);
    let before = cpu_seconds(xvfb_pid)?;
    let out = cmd.output().context("tandem screens")?;
    let xvfb = cpu_seconds(xvfb_pid)? - before;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "tandem screens failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cost = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("capture_cost").cloned())
        .context("no capture_cost line")?;
    Ok((cost, xvfb))
}

fn measure(
    build: &'static str,
    make: &dyn Fn() -> Command,
    capture: &str,
    frames: u32,
    xvfb_pid: u32,
) -> anyhow::Result<Row> {
    // One frame first: the process's start-up share of the X server's CPU.
    let (_, xvfb_one) = run_once(make(), capture, 1, xvfb_pid)?;
    let (cost, xvfb_n) = run_once(make(), capture, frames, xvfb_pid)?;
    let num = |k: &str| cost[k].as_f64().unwrap_or(f64::NAN);
    Ok(Row {
        build,
        method: cost["method"].as_str().unwrap_or("?").to_string(),
        fallback: cost["fallback"].as_str().map(str::to_string),
        wall_p50: num("wall_ms_p50"),
        wall_p95: num("wall_ms_p95"),
        cpu_ms: num("cpu_ms_per_frame"),
        xvfb_ms: (xvfb_n - xvfb_one).max(0.0) * 1e3 / f64::from(frames.saturating_sub(1).max(1)),
    })
}

pub fn run(frames: u32, width: u32, height: u32, exe: Option<PathBuf>) -> anyhow::Result<()> {
    let exe = exe
        .or_else(tandem_tests::wine::windows_tandem)
        .context("no Windows build: scripts/build-windows.sh (or --exe)")?;
    let x = Xvfb::start(&[(width, height)]);
    let painter = Painter::open(&x.display, 0);
    painter.show(&known_picture(width, height));
    let wine = Wine::start(&x.display);
    let linux = tandem_tests::bin("tandem");
    let native = || {
        let mut cmd = Command::new(&linux);
        cmd.env("DISPLAY", &x.display).env_remove("WAYLAND_DISPLAY");
        cmd
    };
    let windows = || wine.command(&exe);
    let rows = [
        measure("Linux", &native, "x11", frames, x.pid())?,
        measure("Linux", &native, "xcap", frames, x.pid())?,
        measure("Windows under Wine 8", &windows, "auto", frames, x.pid())?,
    ];
    println!(
        "Capture of one {width}×{height} frame on Xvfb, {frames} frames per method, one process each:\n"
    );
    println!("| build | method | wall p50 | wall p95 | capturing thread CPU / frame | Xvfb CPU / frame |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
            r.build, r.method, r.wall_p50, r.wall_p95, r.cpu_ms, r.xvfb_ms
        );
    }
    for r in rows.iter().filter(|r| r.fallback.is_some()) {
        println!(
            "\n{} ({}): {}",
            r.build,
            r.method,
            r.fallback.as_deref().unwrap_or_default()
        );
    }
    let (wine, shm) = (&rows[2], &rows[0]);
    println!(
        "\nRatios, CPU per frame (capturing thread + Xvfb): Wine GDI / Linux MIT-SHM {:.1}×, Wine GDI / Linux xcap {:.1}×.",
        (wine.cpu_ms + wine.xvfb_ms) / (shm.cpu_ms + shm.xvfb_ms).max(1e-6),
        (wine.cpu_ms + wine.xvfb_ms) / (rows[1].cpu_ms + rows[1].xvfb_ms).max(1e-6)
    );
    Ok(())
}
