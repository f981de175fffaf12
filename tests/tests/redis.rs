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
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "errors took {:?}",
        started.elapsed()
    );
    waiting.kill();
}
