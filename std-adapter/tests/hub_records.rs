//! A `#[derive(Schema)]` record stored by a local writer and mirrored by a
//! remote client: the same `store()` names the same variables in the
//! writer's local change events and in the client's mirror events, and a
//! `bool` field reaches the mirror as a `bool`.

mod common;

use std::path::Path;

use common::{DEADLINE, options};
use memwire_std::client::{Client, MirrorEvent};
use memwire_std::shm::{Root, ShmWriter};

/// The `plant` region, as its writer declares it.
#[repr(C)]
#[derive(memwire::Schema, Clone, Copy, Debug, PartialEq)]
struct Plant {
    count: u64,
    temperature: f32,
    #[memwire(writable)]
    setpoint: f32,
    heater: bool,
    alarms: [bool; 3],
    _reserved: [u8; 4],
}

fn config_text(root: &Path) -> String {
    format!(
        r#"root = {}
[listen]
tcp = "127.0.0.1:0"

[[tenant]]
name = "site"
[[tenant.client]]
name = "ops"
secret = "ops-secret"
rights = [{{ regions = "*", access = "read" }}]
[[tenant.region]]
name = "plant"
variables = [
  {{ name = "count", kind = "u64" }},
  {{ name = "temperature", kind = "f32" }},
  {{ name = "setpoint", kind = "f32", writable = true }},
  {{ name = "heater", kind = "bool" }},
  {{ name = "alarms", kind = "bool", count = 3 }},
  {{ name = "_reserved", kind = "u8", count = 4 }},
]
"#,
        common::toml_path(root)
    )
}

/// The mirror's next event at `generation` or later.
async fn event_at(changes: &mut memwire_std::client::Changes, generation: u64) -> MirrorEvent {
    loop {
        let event = tokio::time::timeout(DEADLINE, changes.next())
            .await
            .expect("a mirror event within the deadline")
            .expect("the subscription goes on");
        if event.generation >= generation {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_and_remote_events_name_the_variables_a_store_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let hub = common::start(dir.path(), &config_text(&root_dir)).await;
    let url = format!("tcp://{}", hub.tcp_addr().expect("tcp"));
    let root = Root::new(&root_dir);

    let writer = ShmWriter::<Plant>::open_record(&root, "site/plant").expect("writer");
    let mut plant = Plant {
        count: 1,
        temperature: 20.5,
        setpoint: 21.0,
        heater: true,
        alarms: [false, true, false],
        _reserved: [0; 4],
    };
    writer.store(&plant).expect("store");

    let client = Client::connect(&url, options("ops", "site", "ops-secret"))
        .await
        .expect("connect");
    let mirror = client.subscribe("site/plant").await.expect("subscribe");
    let mut changes = mirror.changes();
    common::eventually("the first store reaches the mirror", || {
        mirror.load::<Plant>().ok() == Some(plant)
    })
    .await;
    let mut watcher = writer.watch().expect("watcher");

    // One store that changes two fields of five.
    plant.temperature = 22.0;
    plant.alarms[2] = true;
    let generation = writer.store(&plant).expect("store");

    let local = watcher.poll().expect("poll").expect("a local event");
    assert_eq!(local.generation(), generation);
    let local: Vec<&str> = local.names().collect();
    assert_eq!(local, ["temperature", "alarms"]);

    let remote = event_at(&mut changes, generation).await;
    assert_eq!(remote.generation, generation);
    assert!(!remote.resynced);
    assert_eq!(remote.names().collect::<Vec<_>>(), local);
    assert!(remote.contains("alarms") && !remote.contains("heater"));
    assert_eq!(mirror.load::<Plant>().expect("load"), plant);

    client.close().await;
    hub.shutdown().await;
}
