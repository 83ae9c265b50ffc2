//! A running hub taking a new configuration ([`Hub::reload`]), as
//! `docs/hub.md` says: a region added is served, a client removed has its
//! connection closed with the reason, a region removed and a right taken
//! away end their subscriptions with the reason, and a subscriber the
//! change does not touch keeps its session and gets deltas, never a new
//! schema or a full copy. A config that changes the listeners is refused
//! and the hub runs on as it was.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::{End, Raw, options, set_count, toml_path};
use memwire::codec::{Ack, ErrorCode, Frame, Subscribe};
use memwire_std::hub::{Hub, ReloadError};
use memwire_std::shm::Root;

/// A client's entry in the config.
fn client(name: &str, access: &str) -> String {
    format!(
        r#"
[[tenant.client]]
name = "{name}"
secret = "s"
rights = [{{ regions = "*", access = "{access}" }}]
"#
    )
}

/// A region's entry in the config.
fn region(name: &str) -> String {
    format!(
        r#"
[[tenant.region]]
name = "{name}"
variables = [{{ name = "count", kind = "u64" }}]
"#
    )
}

/// A config of tenant `t` on `root` with `entries` (clients and regions).
fn config_text(root: &Path, entries: &[String]) -> String {
    let mut text = format!(
        "root = {}\n[listen]\ntcp = \"127.0.0.1:0\"\n[[tenant]]\nname = \"t\"\n",
        toml_path(root)
    );
    for entry in entries {
        text.push_str(entry);
    }
    text
}

/// A raw connection of `client` subscribed to `path` (handle 7), past
/// its schema and first update; gives the generation that update brought.
async fn subscriber(addr: SocketAddr, client: &str, path: &str) -> (Raw, u64) {
    let mut raw = Raw::connect(addr).await;
    raw.authenticate("t", client, b"s").await.expect("welcome");
    raw.send(&Frame::Subscribe(Subscribe {
        handle: 7,
        path,
        resume: None,
        variables: true,
        full: false,
    }))
    .await;
    let frame = raw.expect_frame().await;
    assert!(
        matches!(Frame::decode(&frame), Ok(Frame::Schema(_))),
        "{path} not served: {:?}",
        Frame::decode(&frame)
    );
    let (base, generation) = next_update(&mut raw).await;
    assert_eq!(base, 0, "the first update is a full copy");
    (raw, generation)
}

/// The next whole update to handle 7 (acknowledged): its base and
/// generation. Fails on a schema (a resync) or an error.
async fn next_update(raw: &mut Raw) -> (u64, u64) {
    loop {
        let frame = raw.expect_frame().await;
        match Frame::decode(&frame) {
            Ok(Frame::Update(u)) if u.last => {
                let (base, generation) = raw.last_update.expect("an update from the reference");
                raw.send(&Frame::Ack(Ack {
                    handle: 7,
                    generation,
                }))
                .await;
                return (base, generation);
            }
            Ok(Frame::Update(_) | Frame::Ping { .. }) => {}
            other => panic!("expected an update, got {other:?}"),
        }
    }
}

/// The error that ends the subscription with handle 7.
async fn ending_error(raw: &mut Raw) -> (ErrorCode, String) {
    loop {
        let frame = raw.expect_frame().await;
        match Frame::decode(&frame) {
            Ok(Frame::Error(e)) => {
                assert_eq!(e.handle, Some(7), "the error ends the subscription only");
                return (e.code, e.reason.to_owned());
            }
            Ok(Frame::Update(_) | Frame::Ping { .. }) => {}
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

/// After a change, `raw`'s subscription goes on from `generation`: the
/// next update is a delta from it, with no schema before it.
async fn goes_on(raw: &mut Raw, root: &Root, path: &str, generation: u64, count: u64) -> u64 {
    set_count(root, path, count);
    let (base, next) = next_update(raw).await;
    assert_eq!(base, generation, "a delta from what the subscriber held");
    next
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_a_region_and_revokes_a_client_and_the_others_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let before = [
        client("keep", "read-write"),
        client("gone", "read"),
        client("narrowed", "read"),
        region("r"),
        region("old"),
    ];
    let hub = common::start(dir.path(), &config_text(&root_dir, &before)).await;
    let addr = hub.tcp_addr().expect("tcp");
    let (mut kept, generation) = subscriber(addr, "keep", "t/r").await;
    let (mut revoked, _) = subscriber(addr, "gone", "t/r").await;
    let (mut narrowed, _) = subscriber(addr, "narrowed", "t/r").await;
    let (mut removed, _) = subscriber(addr, "keep", "t/old").await;
    let generation = goes_on(&mut kept, &root, "t/r", generation, 1).await;

    let after = [
        client("keep", "read-write"),
        r#"
[[tenant.client]]
name = "narrowed"
secret = "s"
rights = [{ regions = "old", access = "read" }]
"#
        .to_owned(),
        region("r"),
        region("added"),
    ];
    let changes = hub
        .reload(common::config(dir.path(), &config_text(&root_dir, &after)))
        .expect("reload");
    assert_eq!(changes.clients_removed, ["t/gone"]);
    assert_eq!(changes.clients_changed, ["t/narrowed"]);
    assert_eq!(changes.regions_added, ["t/added"]);
    assert_eq!(changes.regions_removed, ["t/old"]);

    // The client removed: an error frame with the reason, then the end.
    let (frames, end) = revoked.until_end().await;
    let error = frames
        .iter()
        .find_map(|f| match Frame::decode(f) {
            Ok(Frame::Error(e)) => Some((e.code, e.handle, e.reason.to_owned())),
            _ => None,
        })
        .expect("an error frame before the close");
    assert_eq!(error.0, ErrorCode::AuthFailed);
    assert_eq!(
        error.1, None,
        "the connection's error, not a subscription's"
    );
    assert!(error.2.contains("client removed"), "{}", error.2);
    assert!(matches!(end, End::Eof | End::Failed(_)));

    // The region removed, the right taken away: their subscriptions end.
    let (code, reason) = ending_error(&mut removed).await;
    assert_eq!(code, ErrorCode::Other);
    assert!(reason.contains("region removed"), "{reason}");
    let (code, reason) = ending_error(&mut narrowed).await;
    assert_eq!(code, ErrorCode::AccessDenied);
    assert!(reason.contains("revoked"), "{reason}");

    // The untouched subscriber: the same session, deltas only.
    let generation = goes_on(&mut kept, &root, "t/r", generation, 2).await;
    goes_on(&mut kept, &root, "t/r", generation, 3).await;

    // The region added is served, to a client that connected before.
    let (mut added, _) = subscriber(addr, "keep", "t/added").await;
    set_count(&root, "t/added", 5);
    next_update(&mut added).await;
    let url = format!("tcp://{addr}");
    let client = memwire_std::client::Client::connect(&url, options("keep", "t", "s"))
        .await
        .expect("connect");
    client.subscribe("t/added").await.expect("t/added served");
    assert!(
        client.subscribe("t/old").await.is_err(),
        "t/old is no longer served"
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_moves_the_listeners_is_refused_and_the_old_config_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let entries = [client("keep", "read-write"), region("r")];
    let text = config_text(&root_dir, &entries);
    let hub = common::start(dir.path(), &text).await;
    let addr = hub.tcp_addr().expect("tcp");
    let (mut kept, generation) = subscriber(addr, "keep", "t/r").await;

    let mut moved = config_text(&root_dir, &[client("other", "read"), region("new")]);
    moved = moved.replace("127.0.0.1:0", "127.0.0.1:1");
    let refused = hub.reload(common::config(dir.path(), &moved));
    assert!(
        matches!(
            refused,
            Err(ReloadError::NeedsRestart { section: "listen" })
        ),
        "{refused:?}"
    );
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("restart"), "{message}");
    assert_eq!(hub.config(), common::config(dir.path(), &text));

    // The old config runs on: its client and region, not the new ones.
    goes_on(&mut kept, &root, "t/r", generation, 1).await;
    let mut other = Raw::connect(addr).await;
    assert_eq!(
        other.authenticate("t", "other", b"s").await,
        Err(ErrorCode::AuthFailed)
    );
    let mut raw = Raw::connect(addr).await;
    raw.authenticate("t", "keep", b"s").await.expect("welcome");
    assert!(Hub::region_file(&hub, "t", "new").is_none());
    hub.shutdown().await;
}
