//! The rendezvous's settings from a TOML file, under the command line and the environment.

use std::process::{Command, Stdio};
use std::time::Duration;

use tandem_tests::tempdir;
use tandem_tests::{bin, Peer, Rendezvous};

const T: Duration = Duration::from_secs(20);

#[test]
fn settings_come_from_the_file_and_the_command_line_wins() {
    let dir = tempdir::Dir::new("tandem-config");
    let file = dir.path().join("rendezvous.toml");
    std::fs::write(
        &file,
        "code_ttl_secs = 120\n\
         allocate-per-minute = 1\n\
         allocate_burst = 1\n\
         allow_dev_identity = true\n\
         oidc-allowed-email-domain = [\"example.org\", \"example.com\"]\n",
    )
    .expect("write");
    // The harness's own --allocate-per-minute (1000) comes on the command line: it wins
    // over the file's 1, or the second code below would be refused.
    let rv = Rendezvous::start(&["--config", file.to_str().expect("path")]);
    let mut first = Peer::assist(&rv.url, "Anna Rossi", &[]);
    let issued = first.wait_for("code_issued", T);
    assert_eq!(issued["expires_in_secs"], 120, "{issued}");
    let mut second = Peer::assist(&rv.url, "Anna Rossi", &[]);
    second.wait_for("code_issued", T);
    first.kill();
    second.kill();
}

#[test]
fn an_unknown_setting_is_a_clear_error() {
    let dir = tempdir::Dir::new("tandem-config");
    let file = dir.path().join("rendezvous.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\ncode_tll_secs = 5\n").expect("write");
    let out = Command::new(bin("tandem-rendezvous"))
        .args(["--config", file.to_str().expect("path")])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown setting \"code_tll_secs\""),
        "{stderr}"
    );
}
