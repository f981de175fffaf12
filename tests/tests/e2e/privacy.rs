//! The privacy promise on the device: the app writes no log files (nor anything else) on
//! either side during a whole session.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tandem_tests::tempdir;
use tandem_tests::{Peer, Rendezvous};

const T: Duration = Duration::from_secs(20);

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn a_whole_session_writes_no_files_on_either_side() {
    let rv = Rendezvous::start(&[]);
    let helper_home = tempdir::Dir::new("tandem-helper-home");
    let sharer_home = tempdir::Dir::new("tandem-sharer-home");
    // Both run with more logging than usual (info): it goes to stderr, never to a file.
    let mut helper = Peer::spawn_at_home(
        "helper",
        &[
            "assist",
            "--json",
            "--rendezvous",
            &rv.url,
            "--dev-identity",
            "Anna Rossi",
        ],
        helper_home.path(),
    );
    let code = helper.code(T);
    let mut sharer = Peer::spawn_at_home(
        "sharer",
        &[
            "share",
            "--json",
            "--rendezvous",
            &rv.url,
            "--test-pattern",
            "640x360",
            &code,
        ],
        sharer_home.path(),
    );
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    helper.wait_for("consent_given", T);
    for _ in 0..10 {
        helper.wait_for("frame_received", T);
    }
    // The features a session can use: chat, pause, annotation, a control request.
    helper.type_line("Hello");
    sharer.wait_for("chat", T);
    sharer.type_line("/pause");
    helper.wait_for("paused", T);
    sharer.type_line("/resume");
    helper.wait_for("resumed", T);
    helper.type_line("/pen red 10 10 100 100");
    // A test pattern cannot be controlled: the request is answered "not possible".
    helper.type_line("/control");
    helper.wait_for("control_declined", T);
    helper.type_line("/end");
    helper.wait_exit(T);
    sharer.wait_exit(T);

    for (side, home) in [("helper", &helper_home), ("sharer", &sharer_home)] {
        let written = files_under(home.path());
        assert!(
            written.is_empty(),
            "the {side} wrote files: {written:?}\n{}",
            match side {
                "helper" => helper.history(),
                _ => sharer.history(),
            }
        );
    }
}
