//! The rendezvous inside another program (the app's `demo`, benchmarks): in-memory store,
//! plain WebSocket on a free loopback port, stopped when the handle is dropped.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::server::{serve, AppState, ServerConfig};
use crate::store::memory::MemoryStore;

pub struct EmbeddedRendezvous {
    /// `ws://127.0.0.1:PORT`, for `SessionConfig::rendezvous`.
    pub url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl EmbeddedRendezvous {
    /// Starts on a free loopback port. Must be called inside a tokio runtime.
    pub async fn start(config: ServerConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("ws://{}", listener.local_addr()?);
        let state = AppState::new(config, Arc::new(MemoryStore::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, state, async {
            let _ = stopped.await;
        }));
        Ok(Self { url, _stop: stop })
    }

    /// The demo's and benchmarks' rendezvous: helpers may name themselves (no sign-in).
    pub async fn start_for_demo() -> std::io::Result<Self> {
        Self::start(ServerConfig {
            allow_dev_identity: true,
            ..ServerConfig::default()
        })
        .await
    }
}
