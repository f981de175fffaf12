//! The shared store with a real Redis server: the store's conformance suite, two
//! rendezvous instances pairing a helper on one with a sharer on the other, a Redis restart
//! while a code waits, and an outage that gives clear errors instead of hangs.

use std::time::{Duration, Instant};

use tandem_rendezvous::store::conformance;
use tandem_rendezvous::store::redis_store::RedisStore;
use tandem_tests::redis::RedisServer;
use tandem_tests::{helper_with_code, Peer, Rendezvous};

const T: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_store_behaves_like_the_memory_store() {
    let redis = RedisServer::start();
    let store = RedisStore::connect(&redis.url(), "conformance:")
        .await
        .expect("connect");
    conformance::claim_is_single_use_with_distinct_errors(&store).await;
    conformance::expired_and_abandoned_nameplates(&store).await;
    conformance::nameplates_are_random_not_sequential(&store).await;
    conformance::a_side_that_stops_reading_is_bounded(&store).await;
    conformance::the_two_sides_of_a_session_meet_again_in_their_room(&store).await;
}

/// A helper on one instance stops reading while the sharer on the other keeps sending: the
/// mailbox closes with the same clear error as in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_closes_a_mailbox_across_instances() {
    let redis = RedisServer::start();
    let (a, b) = two_instances(&redis);
    tandem_tests::mailbox::stalled_reader_is_refused(&a.url, &b.url).await;
}

fn two_instances(redis: &RedisServer) -> (Rendezvous, Rendezvous) {
    let url = redis.url();
    (
        Rendezvous::start(&["--redis", &url]),
        Rendezvous::start(&["--redis", &url]),
    )
}

fn full_session(helper: &mut Peer, sharer: &mut Peer) {
    let asked = sharer.wait_for("consent_requested", T);
    assert_eq!(asked["helper_name"], "Anna R.");
    sharer.type_line("y");
    helper.wait_for("consent_given", T);
    for _ in 0..10 {
        helper.wait_for("frame_received", T);
    }
    helper.type_line("Hello from the other instance");
    let chat = sharer.wait_for("chat", T);
    assert_eq!(chat["text"], "Hello from the other instance");
    helper.type_line("/end");
    helper.wait_exit(T);
    sharer.wait_exit(T);
}

#[test]
fn a_helper_on_one_instance_and_a_sharer_on_another_pair_normally() {
    let redis = RedisServer::start();
    let (a, b) = two_instances(&redis);
    let (mut helper, code) = helper_with_code(&a.url);
    let mut sharer = Peer::share(&b.url, &code, &[]);
    full_session(&mut helper, &mut sharer);

    // The code was single use across instances too.
    let mut late = Peer::share(&a.url, &code, &[]);
    let error = late.wait_for("error", T);
    assert_eq!(error["kind"], "used_code", "{error}");
}

#[test]
fn a_redis_restart_while_a_code_waits_loses_nothing() {
    let mut redis = RedisServer::start();
    let (a, b) = two_instances(&redis);
    let (mut helper, code) = helper_with_code(&a.url);
    redis.restart();
    // Instance A re-subscribes its waiting helper once Redis is back (backoff ≤ 2 s).
    std::thread::sleep(Duration::from_secs(3));
    let mut sharer = Peer::share(&b.url, &code, &[]);
    full_session(&mut helper, &mut sharer);
}

fn readyz(rv: &Rendezvous) -> (u16, String) {
    let url = format!("{}/readyz", rv.url.replacen("ws://", "http://", 1));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let response = reqwest::get(url).await.expect("readyz");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    })
}

#[test]
fn a_redis_outage_gives_clear_errors_not_hangs() {
    let mut redis = RedisServer::start();
    let (a, _b) = two_instances(&redis);
    let (mut waiting, code) = helper_with_code(&a.url);
    assert_eq!(readyz(&a), (200, "ready".to_string()));
    redis.stop();
    let (status, body) = readyz(&a);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Redis"), "{body}");

    let started = Instant::now();
    let mut helper = Peer::assist(&a.url, "Anna Rossi", &[]);
    let error = helper.wait_for("error", T);
    assert_eq!(error["kind"], "rendezvous_refused", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("unavailable")),
        "{error}"
    );
    let mut sharer = Peer::share(&a.url, &code, &[]);
    let error = sharer.wait_for("error", T);
    assert_eq!(error["kind"], "rendezvous_refused", "{error}");
    eprintln!("both errors within {:?}", started.elapsed());
    waiting.kill();
}

#[test]
fn session_records_are_shared_by_the_instances_and_expire_after_72_hours() {
    let redis = RedisServer::start();
    let url = redis.url();
    let token = "operator-token-for-tests";
    let a = Rendezvous::start(&["--redis", &url, "--operator-token", token]);
    let b = Rendezvous::start(&["--redis", &url, "--operator-token", token]);
    let (mut helper, code) = helper_with_code(&a.url);
    let mut sharer = Peer::share(&b.url, &code, &[]);
    full_session(&mut helper, &mut sharer);

    // The helper reported to A; B sees the same record.
    let deadline = Instant::now() + T;
    let summary = loop {
        let s = operator_summary(&b, token);
        let day = s["days"]
            .as_object()
            .and_then(|d| d.values().next().cloned());
        if let Some(day) = day {
            if day["reported_by_helper"] == 1 {
                break day;
            }
        }
        assert!(Instant::now() < deadline, "no report in {s}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(summary["sessions"], 1, "{summary}");
    assert_eq!(summary["features"]["chat"], 1, "{summary}");
    assert_eq!(summary["end_reasons"]["helper_ended"], 1, "{summary}");

    // Redis drops the record by itself at 72 hours.
    let keys = redis.command(&["KEYS", "tandem:rec:*"]);
    let key = keys
        .lines()
        .find(|l| l.starts_with("tandem:rec:"))
        .unwrap_or_else(|| panic!("no record key in {keys:?}"))
        .to_string();
    let ttl = redis.command(&["TTL", &key]);
    let secs: u64 = ttl
        .trim()
        .trim_start_matches(':')
        .parse()
        .unwrap_or_else(|_| panic!("TTL reply {ttl:?}"));
    assert!(
        (71 * 3600..=72 * 3600).contains(&secs),
        "expires in {secs} s"
    );
}

fn operator_summary(rv: &Rendezvous, token: &str) -> serde_json::Value {
    let url = format!(
        "{}/v1/operator/sessions",
        rv.url.replacen("ws://", "http://", 1)
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .expect("operator request")
            .json()
            .await
            .expect("json")
    })
}

#[test]
fn rate_limits_are_shared_by_the_instances() {
    let redis = RedisServer::start();
    let url = redis.url();
    let limited = [
        "--redis",
        url.as_str(),
        "--allocate-per-minute",
        "1",
        "--allocate-burst",
        "3",
    ];
    let a = Rendezvous::start(&limited);
    let b = Rendezvous::start(&limited);
    // Three codes in a burst, spread over both instances…
    let mut helpers = Vec::new();
    for rv in [&a, &b, &a] {
        helpers.push(helper_with_code(&rv.url).0);
    }
    // …and the fourth is refused, whichever instance it asks.
    let mut fourth = Peer::assist(&b.url, "Anna Rossi", &[]);
    let error = fourth.wait_for("error", T);
    assert_eq!(error["kind"], "rate_limited", "{error}");
    for mut h in helpers {
        h.kill();
    }
}
