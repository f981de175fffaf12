//! Session records at the rendezvous, through the real binaries: opened at pairing,
//! completed by the helper's report or by the rendezvous when a side vanishes, and seen by
//! the operator as aggregates only.

use std::time::Duration;

use serde_json::Value;
use tandem_tests::{helper_with_code, Peer, Rendezvous};

const T: Duration = Duration::from_secs(20);
const OPERATOR_TOKEN: &str = "operator-secret-for-tests";

fn summary(rv: &Rendezvous, token: Option<&str>) -> (u16, Value) {
    let url = format!(
        "{}/v1/operator/sessions",
        rv.url.replacen("ws://", "http://", 1)
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut request = reqwest::Client::new().get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("operator request");
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    })
}

/// The one day in the summary (the tests run within one day, mostly; at midnight the
/// counts are summed over both).
fn totals(summary: &Value) -> Value {
    let mut total = serde_json::Map::new();
    for day in summary["days"].as_object().expect("days").values() {
        for (key, value) in day.as_object().expect("day") {
            match value {
                Value::Number(n) => {
                    let sum = total.get(key).and_then(Value::as_u64).unwrap_or(0)
                        + n.as_u64().unwrap_or(0);
                    total.insert(key.clone(), sum.into());
                }
                Value::Object(counts) => {
                    let entry = total
                        .entry(key.clone())
                        .or_insert_with(|| Value::Object(Default::default()));
                    for (k, v) in counts {
                        let sum = entry[k].as_u64().unwrap_or(0) + v.as_u64().unwrap_or(0);
                        entry[k] = sum.into();
                    }
                }
                _ => {}
            }
        }
    }
    Value::Object(total)
}

fn wait_for_summary(rv: &Rendezvous, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + T;
    loop {
        let (status, body) = summary(rv, Some(OPERATOR_TOKEN));
        assert_eq!(status, 200);
        let t = totals(&body);
        if done(&t) {
            return t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "summary never got there: {t}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_helper_reports_how_the_session_went_and_the_operator_sees_counts_only() {
    let rv = Rendezvous::start(&["--operator-token", OPERATOR_TOKEN]);
    assert_eq!(summary(&rv, None).0, 401, "no token, no view");
    assert_eq!(summary(&rv, Some("guess")).0, 401);

    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = Peer::share(&rv.url, &code, &[]);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    helper.wait_for("connected", T);
    helper.wait_for("frame_received", T);
    helper.type_line("Hello there");
    sharer.wait_for("chat", T);
    sharer.type_line("/pause");
    helper.wait_for("paused", T);
    helper.type_line("/end");
    helper.wait_exit(T);
    sharer.wait_exit(T);

    let t = wait_for_summary(&rv, |t| t["reported_by_helper"] == 1);
    assert_eq!(t["sessions"], 1, "{t}");
    assert_eq!(t["open"], 0, "{t}");
    assert_eq!(t["end_reasons"]["helper_ended"], 1, "{t}");
    assert_eq!(t["features"]["chat"], 1, "{t}");
    assert_eq!(t["features"]["pause"], 1, "{t}");
    assert_eq!(t["paths"]["direct"], 1, "{t}");
    // Nothing personal in what the operator sees.
    let (_, body) = summary(&rv, Some(OPERATOR_TOKEN));
    let text = body.to_string();
    for secret in ["Anna", "Hello there", "127.0.0.1", code.as_str()] {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
}

#[test]
fn a_helper_that_vanishes_before_the_session_is_closed_by_the_rendezvous() {
    let rv = Rendezvous::start(&["--operator-token", OPERATOR_TOKEN]);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = Peer::share(&rv.url, &code, &[]);
    sharer.wait_for("consent_requested", T);
    // The helper's process dies while the sharer is still deciding: no report can come.
    helper.kill();
    let t = wait_for_summary(&rv, |t| t["closed_by_rendezvous"] == 1);
    assert_eq!(t["sessions"], 1, "{t}");
    assert_eq!(t["errors"]["peer_vanished"], 1, "{t}");
    // The sharer hears that the helper is gone and ends by itself.
    sharer.wait_exit(T);
}
