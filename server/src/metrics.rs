//! Prometheus metrics, served at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels for rejected messages: why they were refused.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// A short, fixed reason (never client text).
    pub reason: &'static str,
}

/// Every metric the server keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: Gauge,
    /// Loaded rooms.
    pub rooms: Gauge,
    /// Updates accepted and stored.
    pub updates_accepted: Counter,
    /// Updates other nodes stored that rooms of this node took in.
    pub updates_relayed: Counter,
    /// Client messages refused, by reason.
    pub messages_rejected: Family<ReasonLabel, Counter>,
    /// Connections dropped because they could not keep up.
    pub slow_disconnects: Counter,
    /// Bytes received in WebSocket messages.
    pub bytes_received: Counter,
    /// Bytes sent in WebSocket messages.
    pub bytes_sent: Counter,
    /// Seconds each group commit of updates took.
    pub persist_seconds: Histogram,
    /// Compactions done.
    pub compactions: Counter,
    /// Logins refused before their password was checked, by reason (these write no audit
    /// entry: this is where a guessing run shows).
    pub logins_refused: Family<ReasonLabel, Counter>,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("samen");
        let metrics = Metrics {
            connections: Gauge::default(),
            rooms: Gauge::default(),
            updates_accepted: Counter::default(),
            updates_relayed: Counter::default(),
            messages_rejected: Family::default(),
            slow_disconnects: Counter::default(),
            bytes_received: Counter::default(),
            bytes_sent: Counter::default(),
            persist_seconds: Histogram::new(exponential_buckets(0.000_25, 2.0, 16)),
            compactions: Counter::default(),
            logins_refused: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections",
            "Open WebSocket connections",
            metrics.connections.clone(),
        );
        registry.register("rooms", "Loaded rooms", metrics.rooms.clone());
        registry.register(
            "updates_accepted",
            "Updates accepted and stored",
            metrics.updates_accepted.clone(),
        );
        registry.register(
            "updates_relayed",
            "Updates other nodes stored that rooms of this node took in",
            metrics.updates_relayed.clone(),
        );
        registry.register(
            "messages_rejected",
            "Client messages refused, by reason",
            metrics.messages_rejected.clone(),
        );
        registry.register(
            "slow_disconnects",
            "Connections dropped because they could not keep up",
            metrics.slow_disconnects.clone(),
        );
        registry.register(
            "received_bytes",
            "Bytes received in WebSocket messages",
            metrics.bytes_received.clone(),
        );
        registry.register(
            "sent_bytes",
            "Bytes sent in WebSocket messages",
            metrics.bytes_sent.clone(),
        );
        registry.register(
            "persist_seconds",
            "Duration of each group commit of updates",
            metrics.persist_seconds.clone(),
        );
        registry.register("compactions", "Document compactions", metrics.compactions.clone());
        registry.register(
            "logins_refused",
            "Logins refused before their password was checked, by reason",
            metrics.logins_refused.clone(),
        );
        Metrics { registry, ..metrics }
    }

    /// Counts one refused client message.
    pub fn reject(&self, reason: &'static str) {
        self.messages_rejected
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// Counts one login refused before its password was checked (`throttled`, `busy`,
    /// `crowded`, `too_long`).
    pub fn login_refused(&self, reason: &'static str) {
        self.logins_refused.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_reasons() {
        let m = Metrics::new();
        m.reject("malformed");
        m.reject("malformed");
        m.connections.inc();
        m.login_refused("throttled");
        let text = m.render();
        assert!(
            text.contains("samen_messages_rejected_total{reason=\"malformed\"} 2"),
            "{text}"
        );
        assert!(text.contains("samen_connections 1"), "{text}");
        assert!(
            text.contains("samen_logins_refused_total{reason=\"throttled\"} 1"),
            "{text}"
        );
        assert!(text.contains("samen_persist_seconds_bucket"), "{text}");
    }
}
