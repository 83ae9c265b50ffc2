//! A hub that serves regions as it finds them, each in its own process:
//! a region declared without `variables` takes the schema of the file its
//! writer (a `#[derive(Schema)]` process) created; a tenant with
//! `discover = true` serves every valid region file of its directory as
//! files come and go; and a declared schema that differs from the file's
//! names the variable that differs.

#![cfg(not(loom))]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod shm_common;

use std::process::{Command, Stdio};

use bytemuck::{Pod, Zeroable};
use memwire::Schema;
use memwire::codec::ErrorCode;
use memwire::schema::Record;
use memwire_std::client::ClientError;
use memwire_std::shm::{ShmError, ShmRegion};
use shm_common::{HubProcess, TempRoot, eventually, hub_config, line, served};

/// The region `record-writer` creates, as its source declares it.
#[derive(Schema, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct Sensors {
    temperature: f32,
    #[memwire(writable)]
    setpoint: f32,
    history: [u16; 8],
}

/// Runs `record-writer`, which creates `path` with `temperature` and
/// exits; returns what it printed.
fn create(root: &TempRoot, path: &str, temperature: f32) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_record-writer"))
        .arg(root.dir())
        .arg(path)
        .arg(temperature.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn record-writer");
    let said = line(&mut child);
    assert!(child.wait().unwrap().success(), "record-writer: {said}");
    said
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_without_variables_serves_the_file_its_writer_created() {
    let root = TempRoot::new("adopt-declared");
    let hub = HubProcess::start(
        &root,
        &hub_config(root.dir(), "demo", "[[tenant.region]]\nname = \"sensors\""),
    );
    let client = hub.client("rw", "demo").await;
    // No writer has created the file yet: the region is not served.
    match client.subscribe("demo/sensors").await {
        Err(ClientError::Hub(ErrorCode::Other)) => {}
        other => panic!("a subscription before the file exists: {other:?}"),
    }

    let said = create(&root, "demo/sensors", 21.5);
    let mirror = served(&client, "demo/sensors").await;
    // The subscriber gets the file's schema, the writer's struct.
    assert_eq!(mirror.schema(), Sensors::schema());
    eventually("the writer's values reach the mirror", || {
        mirror.get::<f32>("temperature").ok() == Some(21.5)
    })
    .await;
    assert_eq!(
        mirror.get::<[u16; 8]>("history").unwrap(),
        [1, 2, 3, 4, 5, 6, 7, 8]
    );
    // Remote writes follow the file's `writable` flags.
    mirror.set("setpoint", 22.5f32).await.unwrap();
    let refused = mirror.set("temperature", 0.0f32).await;
    assert!(
        matches!(refused, Err(ClientError::Hub(ErrorCode::ReadOnly))),
        "a write of a read-only variable: {refused:?}"
    );
    let file = ShmRegion::<Sensors>::open_record(&root.root, "demo/sensors").unwrap();
    assert_eq!(file.load().unwrap().setpoint, 22.5);
    // Listed for a client, as `memwire ls` shows it.
    let instance: u64 = said.strip_prefix("created ").unwrap().parse().unwrap();
    let lister = hub.client("rw", "demo").await;
    assert_eq!(lister.regions(), [("sensors".to_owned(), instance)]);
    lister.close().await;
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovering_tenant_serves_files_as_they_come_and_go() {
    let root = TempRoot::new("adopt-discover");
    let hub = HubProcess::start(&root, &hub_config(root.dir(), "lab", "discover = true"));
    let client = hub.client("rw", "lab").await;
    assert!(matches!(
        client.subscribe("lab/probe").await,
        Err(ClientError::Hub(ErrorCode::UnknownRegion))
    ));

    create(&root, "lab/probe", 3.25);
    // Files that are not regions beside it are ignored.
    let dir = root.dir().join("lab");
    for junk in [".probe.lock", "notes"] {
        std::fs::write(dir.join(junk), b"not a region").unwrap();
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(dir.join(junk), mode).unwrap();
    }
    let probe = served(&client, "lab/probe").await;
    assert_eq!(probe.schema(), Sensors::schema());
    eventually("the probe's value", || {
        probe.get::<f32>("temperature").ok() == Some(3.25)
    })
    .await;
    probe.set("setpoint", 19.0f32).await.unwrap();
    let lister = hub.client("rw", "lab").await;
    let names: Vec<String> = lister.regions().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["probe"]);
    lister.close().await;

    // Removed: its subscribers are told and it is no longer known.
    std::fs::remove_file(dir.join("probe")).unwrap();
    eventually("the end of the removed region's subscription", || {
        probe.is_ended()
    })
    .await;
    assert!(matches!(
        client.subscribe("lab/probe").await,
        Err(ClientError::Hub(ErrorCode::UnknownRegion))
    ));
    let lister = hub.client("rw", "lab").await;
    assert_eq!(lister.regions(), []);
    lister.close().await;

    // Created again: served again, as a new instance.
    create(&root, "lab/probe", 4.5);
    let again = served(&client, "lab/probe").await;
    eventually("the new file's value", || {
        again.get::<f32>("temperature").ok() == Some(4.5)
    })
    .await;
    client.close().await;
}

/// The struct a reader expects: `history` shorter than the writer's.
#[derive(Schema, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct OlderSensors {
    temperature: f32,
    #[memwire(writable)]
    setpoint: f32,
    history: [u16; 4],
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_that_differs_names_the_variable() {
    let root = TempRoot::new("adopt-mismatch");
    create(&root, "demo/sensors", 1.0);
    let file = root.dir().join("demo").join("sensors");
    let error = ShmRegion::<OlderSensors>::open_record(&root.root, "demo/sensors").unwrap_err();
    assert!(
        matches!(error, ShmError::SchemaMismatch { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{}: region variables differ from the expected schema: variable `history` has 8 elements in the region, 4 expected",
            file.display()
        )
    );

    // A hub that declares the older schema serves the others and tells
    // this region's subscribers why it does not serve it.
    let declared = "[[tenant.region]]
name = \"sensors\"
variables = [
  { name = \"temperature\", kind = \"f32\" },
  { name = \"setpoint\", kind = \"f32\", writable = true },
  { name = \"history\", kind = \"u16\", count = 4 },
]";
    let hub = HubProcess::start(&root, &hub_config(root.dir(), "demo", declared));
    let client = hub.client("rw", "demo").await;
    match client.subscribe("demo/sensors").await {
        Err(ClientError::Hub(ErrorCode::Other)) => {}
        other => panic!("a subscription to a file of another schema: {other:?}"),
    }
    client.close().await;
}
