//! A hub and a client in one process, over loopback TCP.

use std::time::Duration;

use memwire::codec::ErrorCode;
use memwire_std::client::{Client, ClientError, ClientOptions};
use memwire_std::hub::{Config, Hub};
use memwire_std::shm::{Root, ShmRegion};

/// How many writes `many_writes_at_once_all_land` makes at once, each to a
/// variable of its own.
const WRITES: u16 = 64;

fn config(root: &std::path::Path) -> Config {
    config_with(root, "")
}

/// The configuration with `regions` (more `[[tenant.region]]` tables) added.
fn config_with(root: &std::path::Path, regions: &str) -> Config {
    let text = format!(
        r#"
root = "{}"
[listen]
tcp = "127.0.0.1:0"
[[tenant]]
name = "demo"
[[tenant.client]]
name = "rw"
secret = "s3cret"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.region]]
name = "sensors"
variables = [
  {{ name = "temperature", kind = "f32" }},
  {{ name = "count", kind = "u64" }},
  {{ name = "setpoint", kind = "f32", writable = true }},
]
{regions}
"#,
        root.display()
    );
    Config::parse(&text, "test.toml", root).unwrap()
}

/// A hub serving `dir` and a read-write client of it.
async fn hub_and_client(dir: &std::path::Path) -> (Hub, Client) {
    hub_and_client_of(config(dir)).await
}

/// A hub on `config` and a read-write client of it.
async fn hub_and_client_of(config: Config) -> (Hub, Client) {
    let hub = Hub::start(config).await.unwrap();
    let url = format!("tcp://{}", hub.tcp_addr().unwrap());
    let client = Client::connect(&url, ClientOptions::new("rw", "demo", "s3cret"))
        .await
        .unwrap();
    (hub, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_write_and_local_change() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, client) = hub_and_client(dir.path()).await;
    // The instance id is the region file's.
    let file = ShmRegion::open(&Root::new(dir.path()), "demo/sensors").unwrap();
    assert_ne!(file.instance(), 0);
    assert_eq!(
        client.regions(),
        vec![("sensors".to_owned(), file.instance())]
    );
    let mirror = client.subscribe("demo/sensors").await.unwrap();
    assert_eq!(mirror.schema().len(), 3);
    let mut changes = mirror.changes();
    let generation = mirror.set("setpoint", 21.5f32).await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .unwrap()
        .unwrap();
    assert!(event.generation >= generation);
    assert_eq!(mirror.get::<f32>("setpoint").unwrap(), 21.5);
    let refused = mirror.set("temperature", 1.0f32).await;
    assert!(
        matches!(refused, Err(ClientError::Hub(ErrorCode::ReadOnly))),
        "{refused:?}"
    );

    // A local writer: the hub finds the change and publishes it.
    let root = memwire_std::shm::Root::new(dir.path());
    let writer = memwire_std::shm::ShmWriter::open(&root, "demo/sensors").unwrap();
    writer.set_by_name("count", 7u64).unwrap();
    drop(writer);
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), changes.next())
            .await
            .unwrap()
            .unwrap();
        if mirror.get::<u64>("count").unwrap() == 7 {
            assert!(
                event
                    .variables
                    .iter()
                    .any(|v| mirror.schema().get(*v).unwrap().name.as_str() == "count")
            );
            break;
        }
    }
    client.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_events_end_when_the_client_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, client) = hub_and_client(dir.path()).await;
    let mirror = client.subscribe("demo/sensors").await.unwrap();
    let mut changes = mirror.changes();
    let generation = mirror.set("setpoint", 3.5f32).await.unwrap();
    // The write's answer can come before the update that carries it: close
    // only once the mirror holds the update, so its event has been sent.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while mirror.generation() < generation {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the update never came"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    client.close().await;
    // The event sent before the close is still there, then the end, while
    // the mirror handle lives on.
    let mut seen = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), changes.next()).await {
            Ok(Some(event)) => seen = Some(event.generation),
            Ok(None) => break,
            Err(_) => panic!("no end of the change events after the close"),
        }
    }
    assert!(seen.is_some_and(|g| g >= generation), "{seen:?}");
    assert_eq!(mirror.get::<f32>("setpoint").unwrap(), 3.5);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writes_at_once_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let slots: Vec<String> = (0..WRITES)
        .map(|i| format!("{{ name = \"w{i}\", kind = \"u16\", writable = true }}"))
        .collect();
    let region = format!(
        "[[tenant.region]]\nname = \"many\"\nvariables = [{}]",
        slots.join(", ")
    );
    let (hub, client) = hub_and_client_of(config_with(dir.path(), &region)).await;
    let mirror = client.subscribe("demo/many").await.unwrap();
    // More than the session keeps unanswered at once: the rest wait for
    // room instead of failing.
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..WRITES {
        let mirror = mirror.clone();
        writes.spawn(async move { mirror.set(&format!("w{i}"), i + 1).await });
    }
    let mut generations = Vec::new();
    while let Some(done) = writes.join_next().await {
        generations.push(done.unwrap().unwrap());
    }
    generations.sort_unstable();
    generations.dedup();
    assert_eq!(
        generations.len(),
        usize::from(WRITES),
        "each write has a generation of its own"
    );
    // Every write is in the region file, and the mirror gets them all.
    let file = ShmRegion::open(&Root::new(dir.path()), "demo/many").unwrap();
    let last = *generations.last().unwrap();
    assert!(file.generation().unwrap() >= last);
    for i in 0..WRITES {
        let name = format!("w{i}");
        assert_eq!(file.get_by_name::<u16>(&name).unwrap(), i + 1, "{name}");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while mirror.generation() < last {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the mirror is at generation {}, the writes went up to {last}",
            mirror.generation()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for i in 0..WRITES {
        let name = format!("w{i}");
        assert_eq!(mirror.get::<u16>(&name).unwrap(), i + 1, "{name}");
    }
    client.close().await;
    hub.shutdown().await;
}
