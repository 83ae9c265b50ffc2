//! The hooks a bridge between hubs uses (`hub/bridge.rs`): a region's
//! snapshots with the deltas cut from their chunk tables, writes made
//! elsewhere checked and applied, and a client's writes to an imported
//! region handed to the bridge and answered by it.

mod common;

use memwire::codec::ErrorCode;
use memwire_std::client::ClientError;

const CONFIG: &str = r#"
root = "regions"
[listen]
tcp = "127.0.0.1:0"
[publish]
chunk = 64
[[tenant]]
name = "demo"
[[tenant.client]]
name = "rw"
secret = "s3cret"
rights = [{ regions = "*", access = "read-write" }]
[[tenant.region]]
name = "sensors"
variables = [
  { name = "setpoint", kind = "f64", writable = true },
  { name = "on", kind = "bool", writable = true },
  { name = "counts", kind = "u8", count = 1024 },
]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_feed_gives_each_snapshot_and_the_delta_since_an_earlier_one() {
    let dir = tempfile::tempdir().unwrap();
    let hub = common::start(dir.path(), CONFIG).await;
    let feed = hub.feed("demo", "sensors").expect("a feed");
    let writer = hub.writer("demo", "sensors").unwrap();
    // Generation 0 vouches for nothing: a delta starts after a commit.
    writer.set_by_name("setpoint", 1.0f64).unwrap();
    tokio::time::timeout(common::DEADLINE, feed.changed())
        .await
        .expect("told of the first commit");
    let first = feed.snapshot().expect("served");
    assert!(first.generation() > 0);
    let counts = writer.schema().find("counts").unwrap();
    let offset = writer
        .schema()
        .variables()
        .iter()
        .find(|v| v.name.as_str() == "counts")
        .unwrap()
        .offset as usize;
    let changed = offset + 700;
    let mut bytes = vec![0u8; 1024];
    bytes[700] = 9;
    writer.write(counts, &bytes).unwrap();
    tokio::time::timeout(common::DEADLINE, feed.changed())
        .await
        .expect("told of the new snapshot");
    let now = feed.snapshot().unwrap();
    assert!(now.generation() > first.generation());
    assert_eq!(now.data()[changed], 9);
    let since = now
        .changed_since(first.instance(), first.generation())
        .expect("a delta");
    assert!(!since.is_empty());
    assert!(
        since.iter().any(|r| r.start <= changed && changed < r.end),
        "{since:?}"
    );
    assert!(since.iter().all(|r| r.end - r.start <= 1024), "{since:?}");
    assert_eq!(
        now.changed_since(first.instance() ^ 1, first.generation()),
        None
    );
    assert_eq!(now.changed_since(now.instance(), 0), None);
    assert_eq!(
        now.changed_since(now.instance(), now.generation() + 1),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_from_elsewhere_is_checked_as_a_clients_is() {
    let dir = tempfile::tempdir().unwrap();
    let hub = common::start(dir.path(), CONFIG).await;
    let applied = hub
        .apply_write("demo", "sensors", &[(0, &2.5f64.to_le_bytes())])
        .expect("applied");
    let feed = hub.feed("demo", "sensors").unwrap();
    let now = feed.snapshot().unwrap();
    assert_eq!(now.generation(), applied);
    assert_eq!(now.data()[..8], 2.5f64.to_le_bytes());
    let code = |r: Result<u64, (ErrorCode, &str)>| r.map_err(|(c, _)| c);
    assert_eq!(
        code(hub.apply_write("demo", "sensors", &[(16, &[1])])),
        Err(ErrorCode::ReadOnly)
    );
    assert_eq!(
        code(hub.apply_write("demo", "sensors", &[(8, &[2])])),
        Err(ErrorCode::BadValue),
        "a bool is 0 or 1"
    );
    assert_eq!(
        code(hub.apply_write("demo", "sensors", &[])),
        Err(ErrorCode::BadValue)
    );
    assert_eq!(
        code(hub.apply_write("demo", "sensors", &[(5000, &[1])])),
        Err(ErrorCode::OutOfBounds)
    );
    assert_eq!(
        code(hub.apply_write("demo", "nowhere", &[(0, &[1])])),
        Err(ErrorCode::UnknownRegion)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inbox_takes_the_clients_writes_and_answers_them() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, client, _root) =
        common::hub_and_client(dir.path(), CONFIG, ("rw", "demo", "s3cret")).await;
    let mut inbox = hub.inbox("demo", "sensors").expect("an inbox");
    let mirror = client.subscribe("demo/sensors").await.unwrap();
    let answering = tokio::spawn(async move {
        let write = inbox.next().await.expect("a write");
        assert_eq!(write.ranges(), &[(0usize, 4.0f64.to_le_bytes().to_vec())]);
        write.answer(Err(ErrorCode::Busy));
        let write = inbox.next().await.expect("a second write");
        write.answer(Ok(77));
        inbox
    });
    assert!(matches!(
        mirror.set("setpoint", 4.0f64).await,
        Err(ClientError::Hub(ErrorCode::Busy))
    ));
    assert_eq!(mirror.set("setpoint", 5.0f64).await.unwrap(), 77);
    // Neither was applied to the hub's copy: the bridge answered both.
    assert_eq!(mirror.get::<f64>("setpoint").unwrap(), 0.0);
    let inbox = answering.await.unwrap();
    drop(inbox);
    // Without the inbox the hub applies writes itself again.
    let generation = mirror.set("setpoint", 6.0f64).await.unwrap();
    assert!(generation > 0);
    let feed = hub.feed("demo", "sensors").unwrap();
    assert_eq!(feed.snapshot().unwrap().data()[..8], 6.0f64.to_le_bytes());
}
