//! Who a request comes from, for rate limits and connection caps.
//!
//! Limits count per network, not per address: one IPv6 customer gets a whole /64 (2^64
//! addresses, enough to sweep every nameplate with a fresh address each time), so an IPv6
//! client is its /64 and an IPv4 client its address. Behind a reverse proxy or load
//! balancer every connection comes from the proxy: with `--trusted-proxy` the client is read
//! from `Forwarded` (RFC 7239) or `X-Forwarded-For`, taking the nearest address that is not
//! itself a trusted proxy — never a header from anyone else.

use std::net::{IpAddr, Ipv6Addr};

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::turn_guard::canonical;

/// Proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        // Nearest hop last: walk back from the proxy until an address it did not add.
        let chain = forwarded_chain(headers);
        chain
            .iter()
            .rev()
            .copied()
            .map(canonical)
            .find(|ip| !self.contains(*ip))
            .or_else(|| chain.first().copied().map(canonical))
            .unwrap_or(peer)
    }
}

/// The addresses a request passed through, client first: `Forwarded`'s `for=` if present,
/// else `X-Forwarded-For`. Unparseable entries (obfuscated names, `unknown`) are skipped.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    // A proxy chain is short; a header with thousands of entries is someone's attack.
    const MAX_HOPS: usize = 32;
    let forwarded: Vec<IpAddr> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .flat_map(|element| element.split(';'))
        .filter_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            key.trim().eq_ignore_ascii_case("for").then(|| value.trim())
        })
        .filter_map(parse_forwarded_node)
        .take(MAX_HOPS)
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .take(MAX_HOPS)
        .collect()
}

/// `192.0.2.1`, `"192.0.2.1:4711"`, `"[2001:db8::1]:4711"` (RFC 7239 §6).
fn parse_forwarded_node(value: &str) -> Option<IpAddr> {
    let v = value.trim_matches('"');
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    v.split(':').next()?.parse().ok()
}

/// The network a client counts as: its IPv4 address, or its IPv6 /64.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_whole_ipv6_64_is_one_client_and_ipv4_is_per_address() {
        assert_eq!(
            network_of(ip("2001:db8:1:2:aaaa::1")),
            network_of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_ne!(
            network_of(ip("2001:db8:1:2::1")),
            network_of(ip("2001:db8:1:3::1"))
        );
        assert_ne!(network_of(ip("192.0.2.1")), network_of(ip("192.0.2.2")));
        assert_eq!(network_of(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn forwarding_headers_count_only_from_a_trusted_proxy() {
        let none = TrustedProxies::default();
        let proxy = TrustedProxies::new(vec!["10.0.0.0/8".parse().expect("net")]);
        let spoofed = headers(&[("x-forwarded-for", "198.51.100.7")]);
        // Anyone can send the header: without a trusted proxy it is ignored.
        assert_eq!(none.client(ip("203.0.113.5"), &spoofed), ip("203.0.113.5"));
        assert_eq!(proxy.client(ip("203.0.113.5"), &spoofed), ip("203.0.113.5"));
        // From the proxy: the nearest untrusted hop, not a client-supplied first entry.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.1.1.1")]);
        assert_eq!(proxy.client(ip("10.0.0.2"), &chain), ip("198.51.100.7"));
        let fwd = headers(&[(
            "forwarded",
            "for=1.2.3.4, for=\"[2001:db8::9]:4711\";proto=https",
        )]);
        assert_eq!(proxy.client(ip("10.0.0.2"), &fwd), ip("2001:db8::9"));
        // Forwarded wins over X-Forwarded-For; nothing usable: the proxy itself.
        let both = headers(&[
            ("forwarded", "for=198.51.100.8"),
            ("x-forwarded-for", "198.51.100.9"),
        ]);
        assert_eq!(proxy.client(ip("10.0.0.2"), &both), ip("198.51.100.8"));
        let junk = headers(&[("forwarded", "for=unknown;by=_hidden")]);
        assert_eq!(proxy.client(ip("10.0.0.2"), &junk), ip("10.0.0.2"));
        // Only proxies in the chain: the first hop.
        let all_inside = headers(&[("x-forwarded-for", "10.2.2.2, 10.3.3.3")]);
        assert_eq!(proxy.client(ip("10.0.0.2"), &all_inside), ip("10.2.2.2"));
    }
}
