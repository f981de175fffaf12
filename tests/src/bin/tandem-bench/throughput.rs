//! `tandem-bench quic-peer`: one end of a bulk transfer over the session's own network stack
//! (the rendezvous mailbox for signalling, ICE with STUN/TURN candidates, QUIC with pinned
//! certificates), without video: the path's capacity rather than the encoder's output.
//! `network` runs two of these in the namespaces; they are not meant to be run by hand.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use tandem::net::ice::{IceOptions, IceSession, IceUpdate};
use tandem::net::quic;
use tandem_crypto::{Fingerprint, SessionCertificate};
use tandem_rendezvous::wire::HelperIdentity;
use tandem_rendezvous::{MailboxClient, PeerEvent};

/// What the two peers tell each other (in clear: this is a benchmark, not a session).
#[derive(Serialize, Deserialize)]
enum Note {
    Hello {
        ufrag: String,
        pwd: String,
        fingerprint: Fingerprint,
        candidates: Vec<String>,
    },
    Candidate(String),
}

pub async fn run(
    rendezvous: String,
    nameplate: Option<String>,
    turn_ca: Option<std::path::PathBuf>,
    megabytes: usize,
    relay_only: bool,
) -> anyhow::Result<()> {
    let mut mailbox = MailboxClient::connect(&rendezvous, None).await?;
    let sender = nameplate.is_some();
    let servers = match &nameplate {
        None => {
            let a = mailbox
                .allocate(HelperIdentity::Dev {
                    name: "Bench".into(),
                })
                .await?;
            println!("nameplate {}", a.nameplate);
            std::io::stdout().flush()?;
            loop {
                if let PeerEvent::PeerJoined = mailbox.recv().await? {
                    break;
                }
            }
            // The joining side's relay credentials travel in the signed introduction, as in
            // a session.
            mailbox.send(&serde_json::to_vec(&a.introduction)?).await?;
            a.ice_servers
        }
        Some(n) => {
            let joined = mailbox.join(n).await?;
            let PeerEvent::Message(body) = mailbox.recv().await? else {
                anyhow::bail!("expected the introduction");
            };
            let introduction: tandem_rendezvous::wire::SignedIntroduction =
                serde_json::from_slice(&body)?;
            introduction
                .verify(&joined.introducer_keys, n, joined.server_time)?
                .ice_servers
        }
    };
    let options = IceOptions {
        servers,
        turn_ca,
        relay_only,
        ..IceOptions::default()
    };
    let cert = SessionCertificate::generate()?;
    let mut ice = IceSession::start(!sender, options).await?;
    let hello = Note::Hello {
        ufrag: ice.local_ufrag.clone(),
        pwd: ice.local_pwd.clone(),
        fingerprint: cert.fingerprint,
        candidates: ice.local_candidates.clone(),
    };
    mailbox.send(&serde_json::to_vec(&hello)?).await?;
    let mut peer_fp = None;
    let mut path = None;
    let deadline = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(deadline);
    while peer_fp.is_none() || path.is_none() {
        tokio::select! {
            _ = &mut deadline => bail!("no path"),
            ev = mailbox.recv() => match ev? {
                PeerEvent::Message(body) => match serde_json::from_slice(&body)? {
                    Note::Hello { ufrag, pwd, fingerprint, candidates } => {
                        for c in candidates {
                            let _ = ice.add_remote_candidate(&c);
                        }
                        ice.start_checks(ufrag, pwd);
                        peer_fp = Some(fingerprint);
                    }
                    Note::Candidate(c) => { let _ = ice.add_remote_candidate(&c); }
                },
                PeerEvent::PeerLeft | PeerEvent::PairingFailed => bail!("peer left"),
                PeerEvent::PeerJoined => {}
            },
            up = ice.updates.recv() => match up.context("ICE stopped")? {
                IceUpdate::LocalCandidate(c) => mailbox.send(&serde_json::to_vec(&Note::Candidate(c))?).await?,
                IceUpdate::Selected(info) => path = Some(info),
                _ => {}
            },
        }
    }
    let peer_fp = peer_fp.context("no peer")?;
    let path = path.context("no path")?;
    let bytes = megabytes * 1024 * 1024;
    if sender {
        // The sharer's side: QUIC server, sends the bulk.
        let (_endpoint, conn) =
            quic::accept(ice.socket.clone(), &cert, peer_fp, Duration::from_secs(6)).await?;
        let mut stream = conn.open_uni().await?;
        let chunk = vec![0x5au8; 64 * 1024];
        let mut sent = 0;
        while sent < bytes {
            stream.write_all(&chunk).await?;
            sent += chunk.len();
        }
        stream.finish()?;
        // Wait for the receiver's verdict before closing.
        let _ = tokio::time::timeout(Duration::from_secs(60), conn.closed()).await;
    } else {
        let (_endpoint, conn) =
            quic::connect(ice.socket.clone(), &cert, peer_fp, Duration::from_secs(6)).await?;
        let mut stream = conn.accept_uni().await?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0usize;
        let mut started = None;
        while let Some(n) = stream.read(&mut buf).await? {
            started.get_or_insert_with(Instant::now);
            got += n;
        }
        let secs = started.map(|s| s.elapsed().as_secs_f64()).unwrap_or(1.0);
        println!(
            "{}",
            serde_json::json!({
                "mbit_per_s": got as f64 * 8.0 / secs / 1e6,
                "bytes": got,
                "rtt_ms": conn.rtt().as_secs_f64() * 1e3,
                "path": path,
            })
        );
        std::io::stdout().flush()?;
        conn.close(0u32.into(), b"done");
    }
    Ok(())
}
