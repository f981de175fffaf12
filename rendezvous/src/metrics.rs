//! Prometheus metrics for the rendezvous (`/metrics`).

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub allocations: Family<ResultLabel, Counter>,
    pub joins: Family<ResultLabel, Counter>,
    pub pairing_failures: Counter,
    pub messages_forwarded: Counter,
    pub connections: Gauge,
    /// Connections closed at accept by a cap (`total`, `per_network`).
    pub connections_refused: Family<ResultLabel, Counter>,
    /// Mailboxes closed because a side stopped reading.
    pub mailbox_overflows: Counter,
    /// Request to answer for helpers (sign-in check + store) and sharers (claim).
    pub allocate_seconds: Histogram,
    pub join_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tandem_rendezvous");
        let allocations = Family::<ResultLabel, Counter>::default();
        let joins = Family::<ResultLabel, Counter>::default();
        let pairing_failures = Counter::default();
        let messages_forwarded = Counter::default();
        let connections = Gauge::default();
        let connections_refused = Family::<ResultLabel, Counter>::default();
        let mailbox_overflows = Counter::default();
        registry.register(
            "connections_refused",
            "Connections closed at once by a connection cap",
            connections_refused.clone(),
        );
        registry.register(
            "mailbox_overflows",
            "Mailboxes closed because a side stopped reading",
            mailbox_overflows.clone(),
        );
        registry.register(
            "allocations",
            "Nameplate allocations by result",
            allocations.clone(),
        );
        registry.register("joins", "Join attempts by result", joins.clone());
        registry.register(
            "pairing_failures",
            "Pairings reported failed (wrong code or tampering)",
            pairing_failures.clone(),
        );
        registry.register(
            "messages_forwarded",
            "Mailbox messages forwarded between peers",
            messages_forwarded.clone(),
        );
        registry.register(
            "connections",
            "Open mailbox WebSocket connections",
            connections.clone(),
        );
        // 0.5 ms … ~4 s.
        let allocate_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        let join_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register(
            "allocate_seconds",
            "Time to answer a helper's request for a code (sign-in check and store)",
            allocate_seconds.clone(),
        );
        registry.register(
            "join_seconds",
            "Time to answer a sharer's claim of a code",
            join_seconds.clone(),
        );
        Self {
            registry,
            connections_refused,
            mailbox_overflows,
            allocate_seconds,
            join_seconds,
            allocations,
            joins,
            pairing_failures,
            messages_forwarded,
            connections,
        }
    }

    pub fn render(&self, active_mailboxes: usize) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        // Live count comes from the store, not a counter that could drift.
        let body = out.trim_end_matches("# EOF\n");
        format!(
            "{body}# HELP tandem_rendezvous_active_mailboxes Pending or paired mailboxes.\n\
             # TYPE tandem_rendezvous_active_mailboxes gauge\n\
             tandem_rendezvous_active_mailboxes {active_mailboxes}\n# EOF\n"
        )
    }
}
