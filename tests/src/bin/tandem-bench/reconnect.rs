//! `tandem-bench reconnect`: the sharer's laptop moves to another network mid-session (its
//! interface loses its address, another comes up behind a different NAT); how long until
//! the helper sees frames again. Direct (cone NATs) and relayed (symmetric NATs), in
//! network namespaces with coturn (needs root). Prints a Markdown table for BENCHMARKS.md.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::Value;
use tandem_tests::netns::{world, Attachment};
use tandem_tests::Peer;

const T: Duration = Duration::from_secs(40);

/// When `peer` first reported an event matching `pred` after `since`.
fn first_after(peer: &Peer, since: Instant, pred: impl Fn(&Value) -> bool) -> Option<Instant> {
    peer.seen
        .iter()
        .find(|(at, v)| *at >= since && pred(v))
        .map(|(at, _)| *at)
}

struct Run {
    /// Move → the helper's `reconnecting` (the silence that counts as a lost path).
    detected: f64,
    /// `reconnecting` → the helper's `path_changed` (room, offers, ICE).
    reconnected: f64,
    /// Move → the first frame decoded on the helper.
    first_frame: f64,
    /// Move → the first frame captured after the path came back (latency < 200 ms).
    fresh_frame: f64,
    path: Value,
}

fn once(helper_at: Attachment, sharer_at: Attachment) -> anyhow::Result<Run> {
    let mut w = world(helper_at, sharer_at);
    let limit = ["--reconnect-limit", "30"];
    let mut helper = w.helper(&limit);
    let code = helper.code(T);
    let mut sharer = w.sharer(
        &code,
        &[&["--test-pattern", "1280x720"][..], &limit[..]].concat(),
    );
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    for _ in 0..30 {
        helper.wait_for("frame_received", T);
    }
    helper.drain();
    w.topo.move_to_another_network(20, sharer_at);
    let moved = Instant::now();
    helper.wait_for("reconnecting", T);
    let path = helper.wait_for("path_changed", T)["path"].clone();
    helper.wait_until(T, |v| {
        v["event"] == "frame_received" && v["latency_ms"].as_f64().is_some_and(|l| l < 200.0)
    });
    let secs = |at: Option<Instant>, from: Instant| {
        at.map_or(f64::NAN, |at| at.duration_since(from).as_secs_f64())
    };
    let reconnecting = first_after(&helper, moved, |v| v["event"] == "reconnecting");
    let changed = first_after(&helper, moved, |v| v["event"] == "path_changed");
    let run = Run {
        detected: secs(reconnecting, moved),
        reconnected: secs(changed, reconnecting.unwrap_or(moved)),
        first_frame: secs(
            first_after(&helper, moved, |v| v["event"] == "frame_received"),
            moved,
        ),
        fresh_frame: secs(
            first_after(&helper, moved, |v| {
                v["event"] == "frame_received"
                    && v["latency_ms"].as_f64().is_some_and(|l| l < 200.0)
            }),
            moved,
        ),
        path,
    };
    helper.type_line("/end");
    helper.wait_exit(T);
    sharer.wait_exit(T);
    if run.first_frame.is_nan() {
        bail!("no frame after the move");
    }
    Ok(run)
}

fn median(v: &mut [f64]) -> f64 {
    super::latency::percentile(v, 0.5)
}

pub fn run(runs: usize) -> anyhow::Result<()> {
    let kinds = [
        ("direct (cone NATs)", Attachment::ConeNat),
        ("relayed (symmetric NATs)", Attachment::SymmetricNat),
    ];
    println!();
    println!("The sharer moves to another network mid-session (address removed, another NAT); a 1280×720 moving test pattern; median of {runs} (min–max).");
    println!();
    println!("| path | path after (helper side) | move → `reconnecting` | `reconnecting` → `path_changed` | move → first frame | move → fresh frame |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for (label, how) in kinds {
        let mut detected = Vec::new();
        let mut reconnected = Vec::new();
        let mut first = Vec::new();
        let mut fresh = Vec::new();
        let mut path = Value::Null;
        for _ in 0..runs {
            let r = once(how, how)?;
            detected.push(r.detected);
            reconnected.push(r.reconnected);
            first.push(r.first_frame);
            fresh.push(r.fresh_frame);
            path = r.path;
        }
        let range = |v: &[f64]| {
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, 0f64), |(lo, hi), &t| (lo.min(t), hi.max(t)));
            format!("{lo:.2}–{hi:.2}")
        };
        println!(
            "| {label} | {} {}↔{} over {} | {:.2} s ({}) | {:.2} s ({}) | {:.2} s ({}) | {:.2} s ({}) |",
            path["kind"].as_str().unwrap_or("?"),
            path["local_type"].as_str().unwrap_or("?"),
            path["remote_type"].as_str().unwrap_or("?"),
            path["transport"].as_str().unwrap_or("?"),
            median(&mut detected.clone()),
            range(&detected),
            median(&mut reconnected.clone()),
            range(&reconnected),
            median(&mut first.clone()),
            range(&first),
            median(&mut fresh.clone()),
            range(&fresh),
        );
    }
    Ok(())
}
