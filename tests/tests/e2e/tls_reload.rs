//! A renewed certificate is picked up on SIGHUP without a restart; a broken one is refused
//! and the old one kept.

use std::time::Duration;

/// A hang guard, never the thing tested.
const T: Duration = Duration::from_secs(20);

use tandem_rendezvous::client::tls_config;
use tandem_rendezvous::MailboxClient;
use tandem_tests::tempdir;
use tandem_tests::turn::TestCa;
use tandem_tests::Rendezvous;

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
    let old = TestCa::new(&["127.0.0.1"]);
    std::fs::copy(&old.cert_pem, &cert_path).expect("cert");
    std::fs::copy(&old.key_pem, &key_path).expect("key");
    let ca_old = old.ca_pem.clone();
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

    // A broken renewal: tried (the server says so), refused, the old certificate stays.
    std::fs::write(&cert_path, "not a certificate").expect("cert");
    hup();
    rv.wait_for_log("keeping the current certificate", 1, T);
    assert_eq!(rv.logged("TLS certificate reloaded"), 0);
    assert!(
        connects(&rv.url, &ca_old).await,
        "still the old certificate"
    );

    // The real renewal.
    let new = TestCa::new(&["127.0.0.1"]);
    std::fs::copy(&new.key_pem, &key_path).expect("key");
    std::fs::copy(&new.cert_pem, &cert_path).expect("cert");
    let ca_new = new.ca_pem.clone();
    hup();
    rv.wait_for_log("TLS certificate reloaded", 1, T);
    assert!(
        connects(&rv.url, &ca_new).await,
        "new connections get the new certificate"
    );
    assert!(
        !connects(&rv.url, &ca_old).await,
        "new connections no longer get the old certificate"
    );
}
