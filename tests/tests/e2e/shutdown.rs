//! SIGTERM: the rendezvous stops taking connections, lets the mailboxes in flight finish,
//! then exits.

use std::time::{Duration, Instant};

use tandem_tests::{helper_with_code, Peer, Rendezvous};

const T: Duration = Duration::from_secs(20);

#[test]
fn sigterm_lets_live_mailboxes_finish_and_refuses_new_ones() {
    let mut rv = Rendezvous::start(&[]);
    let (mut helper, _code) = helper_with_code(&rv.url);
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &rv.pid().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok);
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        rv.try_wait().is_none(),
        "exited with a helper's mailbox still open"
    );
    let mut late = Peer::assist(&rv.url, "Marco Bianchi", &[]);
    let error = late.wait_for("error", T);
    assert_eq!(error["kind"], "rendezvous_unreachable", "{error}");

    // The last mailbox ends: the server follows within moments.
    helper.kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = rv.try_wait() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after the drain");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
