//! `tandem-bench network`: session set-up and path quality per network shape, in network
//! namespaces with coturn (needs root). Prints Markdown tables for BENCHMARKS.md.

use std::time::{Duration, Instant};

use anyhow::Context;

use serde_json::Value;
use tandem_tests::netns::{world, world_with_embedded_turn, Attachment, World};

const T: Duration = Duration::from_secs(40);

fn median(v: &mut [f64]) -> f64 {
    super::latency::percentile(v, 0.5)
}

/// One session: (code submitted → sharer connected in ms, sharer's path).
fn setup_once(w: &World) -> anyhow::Result<(f64, Value)> {
    let mut helper = w.helper(&[]);
    let code = helper.wait_for("code_issued", T)["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let submitted = Instant::now();
    let mut sharer = w.sharer(&code, &["--test-pattern", "640x360"]);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    let connected = sharer.wait_for("connected", T);
    let at = sharer
        .seen
        .iter()
        .rev()
        .find(|(_, v)| v["event"] == "connected")
        .map(|(at, _)| *at)
        .unwrap_or_else(Instant::now);
    helper.wait_for("frame_received", T);
    helper.type_line("/end");
    helper.wait_exit(T);
    sharer.wait_exit(T);
    Ok((
        at.duration_since(submitted).as_secs_f64() * 1e3,
        connected["path"].clone(),
    ))
}

/// Bulk transfer over ICE + QUIC between the two namespaces (`quic-peer`), receiver's view.
fn bulk(w: &World, megabytes: usize) -> anyhow::Result<Value> {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let me = std::env::current_exe()?;
    let ca = w.ca.ca_path();
    let mb = megabytes.to_string();
    let peer = |ns: &str, extra: &[&str]| -> anyhow::Result<std::process::Child> {
        Ok(Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(&me)
            .args([
                "quic-peer",
                "--rendezvous",
                &w.rendezvous.url,
                "--turn-ca",
                &ca,
                "--megabytes",
                &mb,
            ])
            .args(extra)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .spawn()?)
    };
    let mut receiver = peer(&w.topo.helper, &[])?;
    let mut lines = std::io::BufReader::new(receiver.stdout.take().context("stdout")?).lines();
    let first = lines.next().context("receiver said nothing")??;
    let nameplate = first
        .strip_prefix("nameplate ")
        .context("no nameplate")?
        .to_string();
    let mut sender = peer(&w.topo.sharer, &["--nameplate", &nameplate])?;
    let result = lines.next().context("no result")??;
    let _ = receiver.wait();
    let _ = sender.kill();
    let _ = sender.wait();
    Ok(serde_json::from_str(&result)?)
}

struct Quality {
    rtt: f64,
    latency: f64,
    fps: f64,
    kbps: f64,
}

/// A 720p moving test pattern for `seconds`: medians of the helper's per-second stats.
fn quality(w: &World, seconds: u64) -> anyhow::Result<Quality> {
    let mut helper = w.helper(&[]);
    let code = helper.wait_for("code_issued", T)["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut sharer = w.sharer(&code, &["--test-pattern", "1280x720"]);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    helper.wait_for("frame_received", T);
    // Warm-up, then measure.
    helper.count_for(Duration::from_secs(2), |_| false);
    let start = helper.seen.len();
    helper.count_for(Duration::from_secs(seconds), |_| false);
    let stats: Vec<&Value> = helper.seen[start..]
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v["event"] == "stats")
        .collect();
    let col = |k: &str| -> Vec<f64> { stats.iter().filter_map(|v| v[k].as_f64()).collect() };
    let q = Quality {
        rtt: median(&mut col("rtt_ms")),
        latency: median(&mut col("latency_ms")),
        fps: median(&mut col("fps")),
        kbps: median(&mut col("kbit_per_s")),
    };
    helper.type_line("/end");
    helper.wait_exit(T);
    sharer.wait_exit(T);
    Ok(q)
}

pub fn run(runs: usize, seconds: u64) -> anyhow::Result<()> {
    let shapes = [
        (
            "same segment",
            Attachment::Public,
            Attachment::Public,
            false,
        ),
        (
            "both behind cone NATs",
            Attachment::ConeNat,
            Attachment::ConeNat,
            false,
        ),
        (
            "both behind symmetric NATs",
            Attachment::SymmetricNat,
            Attachment::SymmetricNat,
            false,
        ),
        (
            "sharer behind a TCP-443-only firewall, coturn",
            Attachment::ConeNat,
            Attachment::Tcp443Firewall,
            false,
        ),
        (
            "sharer behind a TCP-443-only firewall, embedded TURN",
            Attachment::ConeNat,
            Attachment::Tcp443Firewall,
            true,
        ),
    ];
    println!();
    println!("Code submitted → sharer connected (pairing, gathering, ICE, QUIC; consent answered at once), median of {runs}; then a 1280×720 moving test pattern for {seconds} s (medians of per-second stats).");
    println!();
    println!("| network | path (sharer side) | set-up p50 | min | max | RTT | frame latency | fps | kbit/s | bulk QUIC, Mbit/s (its path) |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (label, helper, sharer, embedded) in shapes {
        let w = if embedded {
            world_with_embedded_turn(helper, sharer)
        } else {
            world(helper, sharer)
        };
        let mut times = Vec::new();
        let mut path = Value::Null;
        for _ in 0..runs {
            let (ms, p) = setup_once(&w)?;
            times.push(ms);
            path = p;
        }
        let q = quality(&w, seconds)?;
        let bulk = bulk(&w, 64)?;
        let (min, max) = times
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        println!(
            "| {label} | {} {}↔{} over {} | {:.0} ms | {min:.0} ms | {max:.0} ms | {:.2} ms | {:.1} ms | {:.1} | {:.0} | {:.0} ({} {}) |",
            path["kind"].as_str().unwrap_or("?"),
            path["local_type"].as_str().unwrap_or("?"),
            path["remote_type"].as_str().unwrap_or("?"),
            path["transport"].as_str().unwrap_or("?"),
            median(&mut times),
            q.rtt,
            q.latency,
            q.fps,
            q.kbps,
            bulk["mbit_per_s"].as_f64().unwrap_or(f64::NAN),
            bulk["path"]["kind"].as_str().unwrap_or("?"),
            bulk["path"]["transport"].as_str().unwrap_or("?"),
        );
    }
    Ok(())
}
