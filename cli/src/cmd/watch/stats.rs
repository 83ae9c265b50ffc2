//! The client's own counters, as the view's last line: connections (so
//! reconnects), updates, bytes, resyncs of this connection, and writes by
//! outcome over all of them.

use memwire::session::Stats;
use memwire_std::client::{Client, WriteCounts};

/// The line for `client` now.
pub(super) fn of(client: &Client) -> String {
    line(client.connections(), &client.stats(), client.writes())
}

fn line(connections: u64, stats: &Stats, writes: WriteCounts) -> String {
    let reconnects = connections.saturating_sub(1);
    format!(
        "client: {reconnects} reconnects; this connection: {} updates, {} resyncs, {} B in, {} B out; \
         writes: {} applied, {} refused, {} unanswered",
        stats.updates,
        stats.resyncs,
        stats.bytes_in,
        stats.bytes_out,
        writes.applied,
        writes.refused,
        writes.unanswered,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_holds_every_counter() {
        let stats = Stats {
            updates: 12,
            resyncs: 1,
            bytes_in: 3400,
            bytes_out: 560,
            ..Stats::default()
        };
        let mut writes = WriteCounts::default();
        writes.applied = 7;
        writes.refused = 2;
        writes.unanswered = 1;
        assert_eq!(
            line(3, &stats, writes),
            "client: 2 reconnects; this connection: 12 updates, 1 resyncs, 3400 B in, 560 B out; \
             writes: 7 applied, 2 refused, 1 unanswered"
        );
    }
}
