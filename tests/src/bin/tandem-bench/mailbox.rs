//! `tandem-bench mailbox`: load on the rendezvous — pairings per second and pairing latency
//! at a given number of concurrent mailboxes, memory per pending nameplate, lost messages —
//! for the in-memory and Redis stores, and magic-wormhole's mailbox server (the reference,
//! `pip install magic-wormhole-mailbox-server`) doing the same work on the same machine.
//!
//! One pairing: the helper connects and gets a nameplate; the sharer connects and claims
//! it; each side sends one message and waits for the other's. The server runs as its own
//! process; the load comes from this one over loopback, or from several worker processes
//! (`--load-processes`) when one process cannot hold all the sockets (20 000 open files per
//! process here: 10 000 pairings in flight are 20 000 client sockets). `redis2` is two
//! instances sharing one Redis, the helper on one and the sharer on the other, as behind a
//! load balancer: each instance then holds one socket per pairing.
//!
//! Every server is measured at the same concurrencies in one invocation, over plain `ws://`
//! and over `wss://` (TLS, as deployed; both servers with the same test certificate), with
//! the same accept backlog (4096: the rendezvous's own, and Twisted's `backlog=` for the
//! reference, whose default of 50 reset connections under load and measured the backlog,
//! not the server). Server CPU is the server processes' own CPU time, so the ratios are CPU
//! time against CPU time.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tandem_rendezvous::client::tls_config;
use tandem_rendezvous::wire::HelperIdentity;
use tandem_rendezvous::{MailboxClient, PeerEvent};
use tandem_tests::turn::TestCa;
use tokio_tungstenite::tungstenite::Message;

/// The server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Server {
    Memory,
    Redis,
    /// Two instances sharing one Redis: helpers on the first, sharers on the second.
    Redis2,
    Wormhole,
}

/// How clients reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    Ws,
    /// TLS, with a test CA the load trusts.
    Wss,
}

/// Both servers listen with this accept backlog.
const BACKLOG: u32 = 4096;

/// The server under test: its processes (one, or two instances) and where helpers and
/// sharers connect.
struct Running {
    children: Vec<Child>,
    helper_url: String,
    sharer_url: String,
    /// The trust the load needs for `wss://`.
    tls: Option<Arc<rustls::ClientConfig>>,
    _redis: Option<tandem_tests::redis::RedisServer>,
    _dir: Option<tandem_tests::tempdir::Dir>,
}

impl Running {
    fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_rendezvous(
    rendezvous_bin: &std::path::Path,
    redis: Option<&tandem_tests::redis::RedisServer>,
    ca: Option<&TestCa>,
) -> anyhow::Result<(Child, String)> {
    let mut cmd = Command::new(rendezvous_bin);
    cmd.args(["--listen", "127.0.0.1:0", "--allow-dev-identity"])
        .args(["--allocate-per-minute", "100000000"])
        .args(["--allocate-burst", "100000000"])
        .args(["--join-per-minute", "100000000"])
        .args(["--join-burst", "100000000"])
        // The whole load comes from one address: no per-client limit may hold it back.
        .args(["--account-allocate-per-minute", "100000000"])
        .args(["--account-allocate-burst", "100000000"])
        .args(["--global-join-per-minute", "100000000"])
        .args(["--global-join-burst", "100000000"])
        .args(["--max-connections", "1000000"])
        .args(["--max-connections-per-network", "1000000"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(redis) = redis {
        cmd.args(["--redis", &redis.url()]);
    }
    if let Some(ca) = ca {
        cmd.arg("--tls-cert")
            .arg(&ca.cert_pem)
            .arg("--tls-key")
            .arg(&ca.key_pem);
    }
    let mut child = cmd.spawn().context("tandem-rendezvous")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| anyhow!("unexpected {line:?}"))?
        .to_string();
    Ok((child, url))
}

fn start(
    server: Server,
    transport: Transport,
    rendezvous_bin: &std::path::Path,
    ca: &TestCa,
) -> anyhow::Result<Running> {
    let (ca, tls) = match transport {
        Transport::Ws => (None, None),
        Transport::Wss => (Some(ca), Some(tls_config(Some(&ca.ca_pem))?)),
    };
    match server {
        Server::Memory | Server::Redis | Server::Redis2 => {
            let redis = (server != Server::Memory).then(tandem_tests::redis::RedisServer::start);
            let (first, helper_url) = start_rendezvous(rendezvous_bin, redis.as_ref(), ca)?;
            let mut children = vec![first];
            let mut sharer_url = helper_url.clone();
            if server == Server::Redis2 {
                let (second, url) = start_rendezvous(rendezvous_bin, redis.as_ref(), ca)?;
                children.push(second);
                sharer_url = url;
            }
            Ok(Running {
                children,
                helper_url,
                sharer_url,
                tls,
                _redis: redis,
                _dir: None,
            })
        }
        Server::Wormhole => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            // Its state database in a fresh directory, as it runs in production (SQLite).
            let dir = tandem_tests::tempdir::Dir::new("wormhole-mailbox");
            // Twisted's endpoint strings: its listen backlog set to ours; TLS needs
            // pyOpenSSL (`twisted[tls]`).
            let endpoint = match ca {
                None => format!("tcp:port={port}:interface=127.0.0.1:backlog={BACKLOG}"),
                Some(ca) => format!(
                    "ssl:port={port}:interface=127.0.0.1:backlog={BACKLOG}:privateKey={}:certKey={}",
                    ca.key_pem.display(),
                    ca.cert_pem.display()
                ),
            };
            let scheme = if ca.is_some() { "wss" } else { "ws" };
            let child = Command::new("twist")
                .current_dir(dir.path())
                // Its per-connection log lines cost CPU; ours logs errors only.
                .args(["--log-level=error", "wormhole-mailbox"])
                .arg(format!("--port={endpoint}"))
                .arg("--channel-db=relay.sqlite")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("twist (scripts/setup-deps.sh bench)")?;
            let deadline = Instant::now() + Duration::from_secs(20);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if Instant::now() > deadline {
                    bail!("the wormhole mailbox server did not start");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let url = format!("{scheme}://127.0.0.1:{port}/v1");
            Ok(Running {
                children: vec![child],
                helper_url: url.clone(),
                sharer_url: url,
                tls,
                _redis: None,
                _dir: Some(dir),
            })
        }
    }
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds a process has used (user + system).
fn cpu_secs(pid: u32) -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = after.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks)
        })
        .unwrap_or(0.0)
}

// ---- one pairing, per protocol ----------------------------------------------------------

async fn tandem_pairing(
    helper_url: &str,
    sharer_url: &str,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> anyhow::Result<()> {
    let mut helper = MailboxClient::connect(helper_url, tls.cloned()).await?;
    let allocation = helper
        .allocate(HelperIdentity::Dev {
            name: "Anna Rossi".into(),
        })
        .await?;
    let mut sharer = MailboxClient::connect(sharer_url, tls.cloned()).await?;
    sharer.join(&allocation.nameplate).await?;
    match helper.recv().await? {
        PeerEvent::PeerJoined => {}
        other => bail!("helper got {other:?}"),
    }
    helper.send(b"pake-from-helper").await?;
    sharer.send(b"pake-from-sharer").await?;
    let from_helper = sharer.recv().await?;
    let from_sharer = helper.recv().await?;
    if from_helper != PeerEvent::Message(b"pake-from-helper".to_vec())
        || from_sharer != PeerEvent::Message(b"pake-from-sharer".to_vec())
    {
        bail!("lost or changed message");
    }
    helper.close().await;
    sharer.close().await;
    Ok(())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_connect(url: &str, tls: Option<&Arc<rustls::ClientConfig>>) -> anyhow::Result<Ws> {
    let connector = tls.map(|c| tokio_tungstenite::Connector::Rustls(Arc::clone(c)));
    let (ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(url, None, false, connector).await?;
    Ok(ws)
}

async fn ws_send(ws: &mut Ws, v: Value) -> anyhow::Result<()> {
    ws.send(Message::Text(v.to_string().into())).await?;
    Ok(())
}

/// The next message of `kind` (acks, welcome and others skipped).
async fn ws_expect(ws: &mut Ws, kind: &str) -> anyhow::Result<Value> {
    while let Some(msg) = ws.next().await {
        if let Message::Text(text) = msg? {
            let v: Value = serde_json::from_str(&text)?;
            if v["type"] == kind {
                return Ok(v);
            }
            if v["type"] == "error" {
                bail!("wormhole server: {v}");
            }
        }
    }
    bail!("closed while waiting for {kind}")
}

/// The same pairing in magic-wormhole's mailbox protocol: bind, allocate, claim, open, add;
/// each side waits for the other side's message.
async fn wormhole_pairing(
    url: &str,
    n: u64,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> anyhow::Result<()> {
    let mut helper = ws_connect(url, tls).await?;
    let mut sharer = ws_connect(url, tls).await?;
    let appid = "tandem.bench";
    let (hs, ss) = (format!("h{n:x}"), format!("s{n:x}"));
    ws_send(
        &mut helper,
        json!({"type": "bind", "appid": appid, "side": hs}),
    )
    .await?;
    ws_send(&mut helper, json!({"type": "allocate"})).await?;
    let nameplate = ws_expect(&mut helper, "allocated").await?["nameplate"].clone();
    ws_send(
        &mut helper,
        json!({"type": "claim", "nameplate": nameplate}),
    )
    .await?;
    let mailbox = ws_expect(&mut helper, "claimed").await?["mailbox"].clone();
    ws_send(&mut helper, json!({"type": "open", "mailbox": mailbox})).await?;
    ws_send(
        &mut sharer,
        json!({"type": "bind", "appid": appid, "side": ss}),
    )
    .await?;
    ws_send(
        &mut sharer,
        json!({"type": "claim", "nameplate": nameplate}),
    )
    .await?;
    let mailbox_s = ws_expect(&mut sharer, "claimed").await?["mailbox"].clone();
    ws_send(&mut sharer, json!({"type": "open", "mailbox": mailbox_s})).await?;
    ws_send(
        &mut helper,
        json!({"type": "add", "phase": "pake", "body": "aa"}),
    )
    .await?;
    ws_send(
        &mut sharer,
        json!({"type": "add", "phase": "pake", "body": "bb"}),
    )
    .await?;
    // Messages are echoed to their sender too: wait for the other side's.
    async fn other_side(ws: &mut Ws, side: &str) -> anyhow::Result<()> {
        loop {
            let m = ws_expect(ws, "message").await?;
            if m["side"] != side {
                return Ok(());
            }
        }
    }
    other_side(&mut helper, &hs).await?;
    other_side(&mut sharer, &ss).await?;
    for (ws, side_mailbox) in [(&mut helper, &mailbox), (&mut sharer, &mailbox_s)] {
        ws_send(ws, json!({"type": "release", "nameplate": nameplate})).await?;
        ws_send(
            ws,
            json!({"type": "close", "mailbox": side_mailbox, "mood": "happy"}),
        )
        .await?;
        let _ = ws.close(None).await;
    }
    Ok(())
}

// ---- the load ---------------------------------------------------------------------------

struct Outcome {
    pairings: u64,
    failed: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu: f64,
    /// The server processes' largest resident memory together, sampled during the load.
    peak_rss_kib: u64,
}

/// What one load process measured: pairing latencies (ms) and failures.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct WorkerResult {
    latencies_ms: Vec<f64>,
    failed: u64,
}

/// Runs `concurrency` pairings in a loop for `seconds`, in this process.
pub async fn pairings(
    server: Server,
    helper_url: &str,
    sharer_url: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<WorkerResult> {
    let stop = Instant::now() + Duration::from_secs(seconds);
    let counter = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (helper_url, sharer_url) = (helper_url.to_string(), sharer_url.to_string());
        let tls = tls.clone();
        let counter = Arc::clone(&counter);
        let failed = Arc::clone(&failed);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < stop {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let result = match server {
                    Server::Wormhole => wormhole_pairing(&helper_url, n, tls.as_ref()).await,
                    _ => tandem_pairing(&helper_url, &sharer_url, tls.as_ref()).await,
                };
                match result {
                    Ok(()) => latencies.push(t.elapsed().as_secs_f64() * 1000.0),
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("pairing failed: {e:#}");
                        }
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies_ms = Vec::new();
    for w in workers {
        latencies_ms.extend(w.await?);
    }
    Ok(WorkerResult {
        latencies_ms,
        failed: failed.load(Ordering::Relaxed),
    })
}

/// `tandem-bench mailbox-worker`: one load process, its result as one JSON line.
pub async fn worker(
    server: Server,
    helper_url: String,
    sharer_url: String,
    ca: Option<std::path::PathBuf>,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let tls = ca.map(|ca| tls_config(Some(&ca))).transpose()?;
    let result = pairings(server, &helper_url, &sharer_url, tls, concurrency, seconds).await?;
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}

async fn load(
    server: Server,
    running: &Running,
    ca: &TestCa,
    concurrency: usize,
    processes: usize,
    seconds: u64,
) -> anyhow::Result<Outcome> {
    let pids = running.pids();
    let cpu = || pids.iter().map(|&p| cpu_secs(p)).sum::<f64>();
    let cpu_before = cpu();
    let sampler = {
        let pids = pids.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            for _ in 0..seconds * 10 {
                tick.tick().await;
                peak = peak.max(pids.iter().map(|&p| rss_kib(p)).sum::<u64>());
            }
            peak
        })
    };
    let started = Instant::now();
    let mut results = Vec::new();
    if processes <= 1 {
        results.push(
            pairings(
                server,
                &running.helper_url,
                &running.sharer_url,
                running.tls.clone(),
                concurrency,
                seconds,
            )
            .await?,
        );
    } else {
        let exe = std::env::current_exe()?;
        let mut children = Vec::new();
        for i in 0..processes {
            let share = concurrency / processes + usize::from(i < concurrency % processes);
            let mut command = tokio::process::Command::new(&exe);
            command.arg("mailbox-worker");
            if running.tls.is_some() {
                command.arg("--ca").arg(&ca.ca_pem);
            }
            let child = command
                .args(["--server", &format!("{server:?}").to_lowercase()])
                .args(["--helper-url", &running.helper_url])
                .args(["--sharer-url", &running.sharer_url])
                .args(["--concurrency", &share.to_string()])
                .args(["--seconds", &seconds.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .context("a load worker")?;
            children.push(child);
        }
        for child in children {
            let out = child.wait_with_output().await?;
            if !out.status.success() {
                bail!("a load worker failed: {}", out.status);
            }
            results.push(serde_json::from_slice(&out.stdout).context("worker output")?);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let server_cpu = cpu() - cpu_before;
    let peak_rss_kib = sampler.await?;
    let failed = results.iter().map(|r| r.failed).sum();
    let mut all: Vec<f64> = results.into_iter().flat_map(|r| r.latencies_ms).collect();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Ok(Outcome {
        pairings: all.len() as u64,
        failed,
        seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        server_cpu,
        peak_rss_kib,
    })
}

/// Server memory per waiting helper: `count` helpers allocate and keep their connection.
async fn memory_per_pending(server: Server, running: &Running, count: usize) -> f64 {
    let (url, pid, tls) = (&running.helper_url, running.pids()[0], running.tls.as_ref());
    let before = rss_kib(pid);
    let mut held = Vec::new();
    for n in 0..count {
        match server {
            Server::Wormhole => {
                if let Ok(mut ws) = ws_connect(url, tls).await {
                    let bound = ws_send(
                        &mut ws,
                        json!({"type": "bind", "appid": "tandem.bench", "side": format!("p{n}")}),
                    )
                    .await;
                    let allocated = match bound {
                        Ok(()) => match ws_send(&mut ws, json!({"type": "allocate"})).await {
                            Ok(()) => ws_expect(&mut ws, "allocated").await.is_ok(),
                            Err(_) => false,
                        },
                        Err(_) => false,
                    };
                    if allocated {
                        held.push(Held::Wormhole(Box::new(ws)));
                    }
                }
            }
            _ => {
                if let Ok(mut client) = MailboxClient::connect(url, tls.cloned()).await {
                    let identity = HelperIdentity::Dev {
                        name: "Anna Rossi".into(),
                    };
                    if client.allocate(identity).await.is_ok() {
                        held.push(Held::Tandem(Box::new(client)));
                    }
                }
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(pid);
    let per = (after.saturating_sub(before) as f64 * 1024.0) / held.len().max(1) as f64;
    drop(held);
    per
}

#[allow(dead_code)] // held only to keep the connections open
enum Held {
    Tandem(Box<MailboxClient>),
    Wormhole(Box<Ws>),
}

/// Server CPU per pairing, µs: what a pairing costs the service, whatever the load's pace.
fn cpu_us_per_pairing(o: &Outcome) -> f64 {
    o.server_cpu * 1e6 / o.pairings.max(1) as f64
}

pub async fn run(
    servers: Vec<Server>,
    transports: Vec<Transport>,
    concurrency: Vec<usize>,
    seconds: u64,
    pending: usize,
    load_processes: usize,
    rendezvous_bin: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let rendezvous_bin = rendezvous_bin.unwrap_or_else(|| tandem_tests::bin("tandem-rendezvous"));
    let ca = TestCa::new(&["127.0.0.1"]);
    println!(
        "| server | transport | concurrent pairings | pairings/s | p50 ms | p99 ms | failed | server CPU (cores) | server CPU µs per pairing | server RSS peak MiB | memory per pending nameplate |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut rows = Vec::new();
    for &transport in &transports {
        for &server in &servers {
            let running = start(server, transport, &rendezvous_bin, &ca)?;
            let per_pending = memory_per_pending(server, &running, pending).await / 1024.0;
            for &c in &concurrency {
                let o = load(server, &running, &ca, c, load_processes, seconds).await?;
                println!(
                    "| {server:?} | {transport:?} | {c} | {:.0} | {:.1} | {:.1} | {} | {:.2} | {:.0} | {:.1} | {per_pending:.1} KiB |",
                    o.pairings as f64 / o.seconds,
                    o.p50_ms,
                    o.p99_ms,
                    o.failed,
                    o.server_cpu / o.seconds,
                    cpu_us_per_pairing(&o),
                    o.peak_rss_kib as f64 / 1024.0,
                );
                rows.push((server, transport, c, o));
            }
        }
    }
    // Each Tandem store against the reference at the same transport and concurrency.
    let reference = |t: Transport, c: usize| {
        rows.iter()
            .find(|(s, rt, rc, _)| *s == Server::Wormhole && *rt == t && *rc == c)
            .map(|(.., o)| o)
    };
    let mut header = false;
    for (server, transport, c, o) in rows.iter().filter(|r| r.0 != Server::Wormhole) {
        let Some(w) = reference(*transport, *c) else {
            continue;
        };
        if !header {
            println!();
            println!("| Tandem store | transport | concurrent pairings | pairings/s ÷ reference's | reference's CPU per pairing ÷ ours | failed (ours / reference) |");
            println!("| --- | --- | ---: | ---: | ---: | ---: |");
            header = true;
        }
        let rate = |o: &Outcome| o.pairings as f64 / o.seconds;
        println!(
            "| {server:?} | {transport:?} | {c} | {:.1}× | {:.1}× | {} / {} |",
            rate(o) / rate(w).max(1e-9),
            cpu_us_per_pairing(w) / cpu_us_per_pairing(o).max(1e-9),
            o.failed,
            w.failed,
        );
    }
    Ok(())
}
