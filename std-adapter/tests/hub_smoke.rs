//! A hub and a client in one process, over loopback TCP.

use std::time::Duration;

use memwire_std::client::{Client, ClientOptions};
use memwire_std::hub::{Config, Hub};

fn config(root: &std::path::Path) -> Config {
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
"#,
        root.display()
    );
    Config::parse(&text, "test.toml", root).unwrap()
}

/// A hub serving `dir` and a read-write client of it.
async fn hub_and_client(dir: &std::path::Path) -> (Hub, Client) {
    let hub = Hub::start(config(dir)).await.unwrap();
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
    assert_eq!(
        client.regions(),
        vec![("sensors".to_owned(), client.regions()[0].1)]
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
    assert!(refused.is_err(), "{refused:?}");

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
async fn many_writes_at_once_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, client) = hub_and_client(dir.path()).await;
    let mirror = client.subscribe("demo/sensors").await.unwrap();
    // More than the session keeps unanswered at once: the rest wait for
    // room instead of failing.
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..64u16 {
        let mirror = mirror.clone();
        writes.spawn(async move { mirror.set("setpoint", f32::from(i)).await });
    }
    let mut generations = Vec::new();
    while let Some(done) = writes.join_next().await {
        generations.push(done.unwrap().unwrap());
    }
    generations.sort_unstable();
    generations.dedup();
    assert_eq!(
        generations.len(),
        64,
        "each write has a generation of its own"
    );
    client.close().await;
    hub.shutdown().await;
}
