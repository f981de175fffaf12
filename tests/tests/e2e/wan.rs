//! Internet paths: the link emulator itself (delay and rate as its profile says, measured
//! with real packets through real interfaces), and a session through a phone's LTE.
//! Needs root (CI runs as root).

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tandem_tests::netns::{in_namespace, world_shaped, Attachment, Topology};
use tandem_tests::wan::Profile;

const T: Duration = Duration::from_secs(40);
const HELPER_IP: &str = "203.0.113.10";
const SHARER_IP: &str = "203.0.113.20";
/// UDP payload of the rate probes; on the wire each is this + 42 bytes of headers.
const PROBE: usize = 1200;
const WIRE: usize = PROBE + 8 + 20 + 14;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Sends `PROBE`-byte datagrams from namespace `from` to `to` at `offered_bps` (on the wire)
/// for `seconds`, and returns the rate at which they arrived at `to_ns` (bits on the wire per
/// second, after the first second, when any queue has filled).
fn carried_rate(from_ns: &str, to_ns: &str, to: &str, offered_bps: f64, seconds: u64) -> f64 {
    let receiver = {
        let to = to.to_string();
        let socket = in_namespace(to_ns, move || {
            UdpSocket::bind((to.as_str(), 7001)).expect("bind the probe receiver")
        });
        std::thread::spawn(move || {
            socket
                .set_read_timeout(Some(Duration::from_secs(2)))
                .expect("timeout");
            let mut arrivals = Vec::new();
            let mut buf = [0u8; 2048];
            while let Ok(n) = socket.recv(&mut buf) {
                arrivals.push((Instant::now(), n));
            }
            arrivals
        })
    };
    let target = format!("{to}:7001");
    in_namespace(from_ns, move || {
        let socket = UdpSocket::bind("0.0.0.0:0").expect("bind the sender");
        let payload = vec![0x5au8; PROBE];
        let started = Instant::now();
        let mut sent = 0u64;
        while started.elapsed() < Duration::from_secs(seconds) {
            let due = (started.elapsed().as_secs_f64() * offered_bps / (WIRE as f64 * 8.0)) as u64;
            while sent < due {
                let _ = socket.send_to(&payload, &target);
                sent += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let arrivals = receiver.join().expect("receiver");
    let first = arrivals.first().expect("some probes arrived").0;
    let counted: Vec<&(Instant, usize)> = arrivals
        .iter()
        .filter(|(at, _)| at.duration_since(first) >= Duration::from_secs(1))
        .collect();
    let (start, end) = (counted[0].0, counted[counted.len() - 1].0);
    let bits = (counted.len() - 1) as f64 * WIRE as f64 * 8.0;
    bits / end.duration_since(start).as_secs_f64()
}

/// Round trips of small datagrams from the sharer to an echo on the helper, in ms.
fn round_trips(topo: &Topology, count: usize) -> Vec<f64> {
    let echo = in_namespace(&topo.helper, || {
        UdpSocket::bind((HELPER_IP, 7000)).expect("bind the echo")
    });
    let stop = Arc::new(AtomicBool::new(false));
    let echoing = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            echo.set_read_timeout(Some(Duration::from_millis(100)))
                .expect("timeout");
            let mut buf = [0u8; 256];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((n, from)) = echo.recv_from(&mut buf) {
                    let _ = echo.send_to(&buf[..n], from);
                }
            }
        })
    };
    let rtts = in_namespace(&topo.sharer, move || {
        let socket = UdpSocket::bind("0.0.0.0:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut rtts = Vec::new();
        let mut buf = [0u8; 256];
        for i in 0..count as u32 {
            let sent = Instant::now();
            let _ = socket.send_to(&i.to_le_bytes(), (HELPER_IP, 7000));
            // Answers to earlier probes (lost, then late) are skipped.
            while let Ok(n) = socket.recv(&mut buf) {
                if n == 4 && buf[..4] == i.to_le_bytes() {
                    rtts.push(sent.elapsed().as_secs_f64() * 1e3);
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        rtts
    });
    stop.store(true, Ordering::Relaxed);
    let _ = echoing.join();
    rtts
}

/// The `dsl` profile on the sharer's link, measured from outside the emulator with real
/// packets: the round trip is its 40 ms, the uplink carries 2 Mbit/s and the downlink 16,
/// each within 10 %.
#[test]
fn the_link_emulator_delays_and_limits_as_its_profile_says() {
    let profile = Profile::dsl();
    let topo = Topology::shaped(Attachment::Public, Attachment::Public, profile.clone());

    let rtt = median(round_trips(&topo, 60));
    let expected = profile.rtt().as_secs_f64() * 1e3;
    eprintln!("round trip {rtt:.1} ms (profile {expected:.0} ms)");
    assert!(
        (rtt - expected).abs() <= expected * 0.1,
        "round trip {rtt:.1} ms, profile {expected:.0} ms"
    );

    let up = carried_rate(&topo.sharer, &topo.helper, HELPER_IP, 4e6, 4);
    eprintln!("uplink {:.2} Mbit/s (profile 2)", up / 1e6);
    assert!((up - 2e6).abs() <= 2e5, "uplink {up:.0} bit/s");

    let down = carried_rate(&topo.helper, &topo.sharer, SHARER_IP, 32e6, 4);
    eprintln!("downlink {:.2} Mbit/s (profile 16)", down / 1e6);
    assert!((down - 16e6).abs() <= 1.6e6, "downlink {down:.0} bit/s");
}

/// A session whose sharer is on a phone's LTE (5 Mbit/s, 80 ms round trip with ±20 ms of
/// jitter, 1 % loss each way), on a real (Xvfb) screen with moving content: every key the
/// helper types lands once and in order, and frames keep coming, recent, the whole time.
#[test]
fn through_lte_every_key_lands_once_in_order_and_frames_stay_fresh() {
    use tandem_tests::xrecord::EventRecorder;
    use tandem_tests::xvfb::Xvfb;

    let w = world_shaped(Attachment::ConeNat, Attachment::ConeNat, Profile::lte());
    let x = Xvfb::start(&[(800, 600)]);
    let rec = EventRecorder::start(&x.display, 0);
    let mut helper = w.helper(&[]);
    let code = helper.code(T);
    let mut sharer = w.sharer(&code, &["--display", &x.display]);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    helper.wait_for("frame_received", T);
    helper.type_line("/control");
    sharer.wait_for("control_requested", T);
    sharer.type_line("y");
    helper.wait_for("control_granted", T);

    let motion = tandem_tests::xvfb::Motion::on(&x.display);
    let letters: Vec<char> = ('a'..='z').collect();
    let mut expected = Vec::new();
    helper.drain();
    let typing_from = helper.seen.len();
    let started = Instant::now();
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(15) {
        let c = letters[i % letters.len()];
        helper.type_line(&format!("/key Key{}", c.to_ascii_uppercase()));
        expected.push(c as u32);
        i += 1;
        std::thread::sleep(Duration::from_millis(100));
        helper.drain();
    }
    let frames: Vec<(Instant, f64)> = helper.seen[typing_from..]
        .iter()
        .filter(|(_, v)| v["event"] == "frame_received")
        .map(|(at, v)| (*at, v["latency_ms"].as_f64().unwrap_or(f64::NAN)))
        .collect();
    drop(motion);

    let typed = rec.pressed_keysyms(expected.len(), T);
    assert_eq!(typed, expected, "keys lost, repeated or reordered");

    // Frames the whole time: none of the 15 one-second windows went without one, and what
    // was shown was recent (no standing queue behind the thin, lossy link).
    for second in 0..15 {
        let from = started + Duration::from_secs(second);
        let to = from + Duration::from_secs(1);
        assert!(
            frames.iter().any(|(at, _)| *at >= from && *at < to),
            "no frame in second {second} of the typing"
        );
    }
    let latency = median(frames.iter().map(|f| f.1).collect());
    eprintln!(
        "{} frames in 15 s through lte, median screen→helper {latency:.0} ms",
        frames.len()
    );
    assert!(
        latency < 500.0,
        "frames arrive {latency:.0} ms old: a queue stands"
    );
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
}
