//! `tandem-bench codec`: damage check, colour conversion, encode and decode per scene, and
//! ffmpeg's libx264 (ultrafast, zerolatency, one thread) on the very same frames.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tandem::media::damage::DamageTracker;
use tandem::media::frame::BgraFrame;
use tandem::media::h264::{VideoDecoder, VideoEncoder};
use tandem::media::rate::{scaled_size, QualityController, QP_START};
use tandem_tests::scenes::{Scene, SceneKind};

const FPS: f64 = 30.0;

struct Ours {
    encoded: usize,
    bytes: usize,
    hash_ms: Vec<f64>,
    convert_ms: Vec<f64>,
    encode_ms: Vec<f64>,
    decode_ms: Vec<f64>,
    /// This process's CPU time in the damage hash, the conversion and the encoder (what
    /// x264's column counts for ffmpeg), summed over every input frame.
    cpu: Duration,
    /// Frames by coded size.
    coded: std::collections::HashMap<(u32, u32), usize>,
}

struct Reference {
    bytes: usize,
    cpu_ms_per_frame: f64,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn ours(
    kind: SceneKind,
    frames: usize,
    width: u32,
    height: u32,
    bitrate: u32,
) -> anyhow::Result<Ours> {
    let mut scene = Scene::new(kind, width, height);
    let mut frame = BgraFrame::new(width, height);
    let mut damage = DamageTracker::new();
    let mut encoder = VideoEncoder::new(width, height, FPS as f32, QP_START)?;
    let mut decoder = VideoDecoder::new()?;
    // The session pipeline's quality control, with the same per-frame budget x264 gets.
    let mut quality = QualityController::default();
    let mut r = Ours {
        encoded: 0,
        bytes: 0,
        hash_ms: Vec::new(),
        convert_ms: Vec::new(),
        encode_ms: Vec::new(),
        decode_ms: Vec::new(),
        cpu: Duration::ZERO,
        coded: Default::default(),
    };
    for i in 0..frames {
        scene.next(&mut frame.data);
        let cpu_start = own_cpu();
        let t = Instant::now();
        let unchanged = damage.update(&frame).is_empty();
        r.hash_ms.push(t.elapsed().as_secs_f64() * 1e3);
        // As the session pipeline does: an unchanged screen is not encoded (the short
        // refinement after a change is left out here: it is at most 12 small frames).
        if unchanged {
            r.cpu += own_cpu().saturating_sub(cpu_start);
            continue;
        }
        // And as the pipeline does, motion that quality alone cannot pay for is coded
        // smaller (a new encoder: the size change is a keyframe).
        let coded = scaled_size(width, height, quality.divisor());
        if encoder.size() != coded {
            encoder = VideoEncoder::new(coded.0, coded.1, FPS as f32, quality.qp())?;
        }
        *r.coded.entry(coded).or_insert(0) += 1;
        encoder.set_qp(quality.qp())?;
        let encoded = encoder.encode(&frame, i == 0)?;
        r.cpu += own_cpu().saturating_sub(cpu_start);
        if !encoded.keyframe {
            quality.observe(encoded.data.len() * 8, f64::from(bitrate) / FPS);
        }
        r.convert_ms.push(f64::from(encoded.convert_us) / 1e3);
        r.encode_ms.push(f64::from(encoded.encode_us) / 1e3);
        r.encoded += 1;
        r.bytes += encoded.data.len();
        let t = Instant::now();
        decoder.decode(&encoded.data)?;
        r.decode_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(r)
}

fn cpu_of(who: libc::c_int) -> Duration {
    // SAFETY: getrusage only writes the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU time of ffmpeg (the reference) once it has been waited for.
fn children_cpu() -> Duration {
    cpu_of(libc::RUSAGE_CHILDREN)
}

/// CPU time of this process, every thread (openh264's included).
fn own_cpu() -> Duration {
    cpu_of(libc::RUSAGE_SELF)
}

fn x264(
    kind: SceneKind,
    frames: usize,
    width: u32,
    height: u32,
    bitrate: u32,
) -> anyhow::Result<Reference> {
    let before = children_cpu();
    let mut child = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgra",
        ])
        .args(["-s", &format!("{width}x{height}"), "-r", "30", "-i", "-"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-threads",
            "1",
        ])
        .args([
            "-b:v",
            &bitrate.to_string(),
            "-pix_fmt",
            "yuv420p",
            "-f",
            "h264",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("ffmpeg (apt install ffmpeg)")?;
    let mut stdout = child.stdout.take().context("stdout")?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out.len()
    });
    let mut stdin = child.stdin.take().context("stdin")?;
    let mut scene = Scene::new(kind, width, height);
    let mut buf = vec![0u8; (width * height * 4) as usize];
    for _ in 0..frames {
        scene.next(&mut buf);
        stdin.write_all(&buf)?;
    }
    drop(stdin);
    let status = child.wait()?;
    if !status.success() {
        bail!("ffmpeg failed: {status}");
    }
    let bytes = reader.join().unwrap_or(0);
    let cpu = children_cpu() - before;
    Ok(Reference {
        bytes,
        cpu_ms_per_frame: cpu.as_secs_f64() * 1e3 / frames as f64,
    })
}

pub fn run(frames: usize, width: u32, height: u32, bitrate: u32) -> anyhow::Result<()> {
    let secs = frames as f64 / FPS;
    println!("{frames} frames of {width}×{height} per scene at 30 fps, target {} kbit/s; stage columns are wall-time medians per encoded frame; the CPU columns are CPU time per input frame (ours: this process, every thread; x264: the ffmpeg process).", bitrate / 1000);
    println!();
    println!("| scene | frames encoded | damage hash | (shrink +) BGRA→I420 | openh264 encode | decode + RGBA | ours kbit/s | coded at (most frames) | ours CPU ms/frame (hash + convert + encode) | x264 CPU ms/frame (convert + encode) | x264 kbit/s | ours/x264 CPU time | ours/x264 bits |");
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for kind in SceneKind::ALL {
        let mut o = ours(kind, frames, width, height, bitrate)?;
        let x = x264(kind, frames, width, height, bitrate)?;
        let kbps = o.bytes as f64 * 8.0 / secs / 1000.0;
        let x_kbps = x.bytes as f64 * 8.0 / secs / 1000.0;
        // Our CPU time per *input* frame (unchanged frames cost only the hash), against
        // ffmpeg's CPU time per input frame: CPU time against CPU time.
        let ours_per_input = o.cpu.as_secs_f64() * 1e3 / frames as f64;
        let coded = o
            .coded
            .iter()
            .max_by_key(|(_, n)| **n)
            .map_or("–".to_string(), |((w, h), _)| format!("{w}×{h}"));
        println!(
            "| {} | {}/{frames} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {coded} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} |",
            kind.name(),
            o.encoded,
            median(&mut o.hash_ms),
            median(&mut o.convert_ms),
            median(&mut o.encode_ms),
            median(&mut o.decode_ms),
            kbps,
            ours_per_input,
            x.cpu_ms_per_frame,
            x_kbps,
            ours_per_input / x.cpu_ms_per_frame.max(1e-6),
            kbps / x_kbps.max(1e-6),
        );
    }
    Ok(())
}
