//! `memwire stats` against a `memwire serve` with its metrics listener on:
//! after known traffic (logins accepted and refused, writes applied and
//! refused) the table shows those counts.

#![cfg(not(loom))]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Serve, free_port, memwire, shown};

/// The VALUE of the row of `metric` with `labels`.
fn row(table: &str, metric: &str, labels: &str) -> Option<u64> {
    table.lines().find_map(|line| {
        let rest = line.strip_prefix(metric)?.trim_start();
        let rest = rest.strip_prefix(labels)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[test]
fn stats_shows_the_counts_of_known_traffic() {
    let http = free_port();
    let serve = Serve::start(&format!("http = \"127.0.0.1:{http}\""));

    for value in ["21.5", "22.5"] {
        let set = serve.run(&["set", "demo/sensors/setpoint", value]);
        assert!(set.status.success(), "{}", shown(&set));
    }
    let viewer = [
        "set",
        "--client",
        "viewer",
        "--secret",
        "memwire-viewer-secret",
        "demo/sensors/setpoint",
        "1",
    ];
    let refused = serve.run(&viewer);
    assert!(!refused.status.success(), "{}", shown(&refused));
    let wrong = serve.run(&["get", "--secret", "wrong", "demo/sensors"]);
    assert!(!wrong.status.success(), "{}", shown(&wrong));

    let metrics = format!("127.0.0.1:{http}");
    let stats = memwire(&serve.root())
        .args(["stats", "--metrics", &metrics, "--interval", "0.2"])
        .output()
        .unwrap();
    assert!(stats.status.success(), "{}", shown(&stats));
    let table = String::from_utf8(stats.stdout).unwrap();
    assert!(table.starts_with("METRIC"), "{table}");
    assert_eq!(row(&table, "logins", "outcome=ok"), Some(3), "{table}");
    assert_eq!(
        row(&table, "logins", "outcome=wrong proof"),
        Some(1),
        "{table}"
    );
    assert_eq!(row(&table, "writes", "outcome=ok"), Some(2), "{table}");
    assert_eq!(
        row(&table, "writes", "outcome=access denied"),
        Some(1),
        "{table}"
    );
    // The four commands, and the probe that saw the hub listening.
    assert_eq!(
        row(&table, "connections", "transport=TCP"),
        Some(5),
        "{table}"
    );
    assert!(
        row(&table, "region_generation", "tenant=demo region=sensors").is_some(),
        "{table}"
    );

    // Nothing listening: an error that says where to look.
    let closed = format!("127.0.0.1:{}", free_port());
    let none = memwire(&serve.root())
        .args(["stats", "--metrics", &closed, "--interval", "0.1"])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1), "{}", shown(&none));
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(err.contains("listen"), "{err}");
}
