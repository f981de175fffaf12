//! STUN/TURN server URLs as handed out by the rendezvous (WebRTC's `RTCIceServer` form):
//! `stun:host:port`, `turn:host:port?transport=udp|tcp`, `turns:host:port?transport=tcp`.

use std::net::SocketAddr;

use tandem_rendezvous::wire::IceServer;
use tracing::debug;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnTransport {
    Udp,
    Tcp,
    /// TCP with TLS: what passes a firewall that only allows HTTPS (port 443).
    Tls,
}

impl TurnTransport {
    pub fn name(self) -> &'static str {
        match self {
            TurnTransport::Udp => "udp",
            TurnTransport::Tcp => "tcp",
            TurnTransport::Tls => "tls",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerUrl {
    Stun {
        host: String,
        port: u16,
    },
    Turn {
        host: String,
        port: u16,
        transport: TurnTransport,
        username: String,
        password: String,
    },
}

impl ServerUrl {
    pub fn host_port(&self) -> (&str, u16) {
        match self {
            ServerUrl::Stun { host, port } | ServerUrl::Turn { host, port, .. } => (host, *port),
        }
    }

    /// The server's address (DNS names are looked up).
    pub async fn resolve(&self) -> Option<SocketAddr> {
        let (host, port) = self.host_port();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        tokio::net::lookup_host((host, port))
            .await
            .ok()?
            .find(SocketAddr::is_ipv4)
    }
}

/// Every usable URL; malformed ones, and TURN entries without credentials, are skipped
/// (the list comes from the network).
pub fn parse_servers(servers: &[IceServer]) -> Vec<ServerUrl> {
    let mut out = Vec::new();
    for server in servers {
        for url in &server.urls {
            match parse_url(url, server) {
                Some(u) => out.push(u),
                None => debug!(%url, "ignoring ICE server URL"),
            }
        }
    }
    out
}

fn parse_url(url: &str, server: &IceServer) -> Option<ServerUrl> {
    let (scheme, rest) = url.split_once(':')?;
    let (hostport, query) = match rest.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (rest, None),
    };
    let transport = match query {
        None => None,
        Some(q) => Some(q.strip_prefix("transport=")?),
    };
    let default_port = if scheme == "turns" { 5349 } else { 3478 };
    let (host, port) = split_host_port(hostport, default_port)?;
    match (scheme, transport) {
        ("stun", None) => Some(ServerUrl::Stun { host, port }),
        ("turn" | "turns", _) => {
            let transport = match (scheme, transport) {
                ("turn", None | Some("udp")) => TurnTransport::Udp,
                ("turn", Some("tcp")) => TurnTransport::Tcp,
                ("turns", None | Some("tcp")) => TurnTransport::Tls,
                _ => return None,
            };
            Some(ServerUrl::Turn {
                host,
                port,
                transport,
                username: server.username.clone()?,
                password: server.credential.clone()?,
            })
        }
        _ => None,
    }
}

fn split_host_port(s: &str, default_port: u16) -> Option<(String, u16)> {
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((format!("[{host}]"), port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_string(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((s.to_string(), default_port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(urls: &[&str], creds: bool) -> IceServer {
        IceServer {
            urls: urls.iter().map(|u| u.to_string()).collect(),
            username: creds.then(|| "1:u".to_string()),
            credential: creds.then(|| "p".to_string()),
        }
    }

    #[test]
    fn parses_the_webrtc_forms_and_skips_the_rest() {
        let parsed = parse_servers(&[
            server(&["stun:203.0.113.1:3478", "stun:stun.example.org"], false),
            server(
                &[
                    "turn:203.0.113.1:3478?transport=udp",
                    "turn:203.0.113.1?transport=tcp",
                    "turns:turn.example.org:443?transport=tcp",
                    "turns:[2001:db8::1]",
                    "turn:x:notaport",
                    "turns:x:443?transport=udp",
                    "gopher://x",
                    "stun:",
                ],
                true,
            ),
            server(&["turn:203.0.113.9:3478"], false),
        ]);
        let turn = |host: &str, port, transport| ServerUrl::Turn {
            host: host.into(),
            port,
            transport,
            username: "1:u".into(),
            password: "p".into(),
        };
        assert_eq!(
            parsed,
            vec![
                ServerUrl::Stun {
                    host: "203.0.113.1".into(),
                    port: 3478
                },
                ServerUrl::Stun {
                    host: "stun.example.org".into(),
                    port: 3478
                },
                turn("203.0.113.1", 3478, TurnTransport::Udp),
                turn("203.0.113.1", 3478, TurnTransport::Tcp),
                turn("turn.example.org", 443, TurnTransport::Tls),
                turn("[2001:db8::1]", 5349, TurnTransport::Tls),
            ]
        );
    }
}
