//! A renewed certificate is picked up on SIGHUP without a restart; a broken one is refused
//! and the old one kept.

use std::time::{Duration, Instant};

use tandem_rendezvous::client::tls_config;
use tandem_rendezvous::MailboxClient;
use tandem_tests::oidc::tempdir;
use tandem_tests::Rendezvous;

fn certificate(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    let ca = dir.join(format!("{name}-ca.pem"));
    std::fs::write(&ca, certified.cert.pem()).expect("write ca");
    (
        ca,
        certified.cert.pem(),
        certified.signing_key.serialize_pem(),
    )
}

async fn connects(url: &str, ca: &std::path::Path) -> bool {
    let tls = tls_config(Some(ca)).expect("tls config");
    match MailboxClient::connect(url, Some(tls)).await {
        Ok(client) => {
            client.close().await;
            true
        }
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate() {
    let dir = tempdir::Dir::new("tandem-tls-reload");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    let (ca_old, cert, key) = certificate(dir.path(), "old");
    std::fs::write(&cert_path, cert).expect("cert");
    std::fs::write(&key_path, key).expect("key");
    let rv = Rendezvous::start(&[
        "--tls-cert",
        cert_path.to_str().expect("path"),
        "--tls-key",
        key_path.to_str().expect("path"),
    ]);
    assert!(rv.url.starts_with("wss://"), "{}", rv.url);
    assert!(
        connects(&rv.url, &ca_old).await,
        "the first certificate works"
    );

    let hup = || {
        let ok = std::process::Command::new("kill")
            .args(["-HUP", &rv.pid().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok);
    };

    // A broken renewal: refused, the old certificate stays.
    std::fs::write(&cert_path, "not a certificate").expect("cert");
    hup();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        connects(&rv.url, &ca_old).await,
        "still the old certificate"
    );

    // The real renewal.
    let (ca_new, cert, key) = certificate(dir.path(), "new");
    std::fs::write(&key_path, key).expect("key");
    std::fs::write(&cert_path, cert).expect("cert");
    hup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !connects(&rv.url, &ca_new).await {
        assert!(Instant::now() < deadline, "the new certificate never came");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !connects(&rv.url, &ca_old).await,
        "new connections no longer get the old certificate"
    );
}
