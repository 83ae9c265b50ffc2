//! Regions a tenant discovers (`discover = true`) across a reload of the
//! configuration, as `docs/hub.md` says: a reload that keeps the tenant
//! discovering keeps them served, with their subscriptions; one that
//! turns discovery off retires them.

mod common;

use std::path::Path;

use common::{options, toml_path};
use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire_std::client::Client;
use memwire_std::shm::{Root, ShmWriter};

static SCHEMA: SchemaBuf<1> = SchemaBuilder::new().var("count", Kind::U64, 1).build();

fn config_text(root: &Path, discover: bool, rights: &str) -> String {
    format!(
        r#"
root = {root}
[listen]
tcp = "127.0.0.1:0"
[[tenant]]
name = "t"
discover = {discover}
[[tenant.client]]
name = "c"
secret = "s"
rights = [{rights}]
"#,
        root = toml_path(root),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_discovered_regions_while_the_tenant_discovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let read = r#"{ regions = "*", access = "read" }"#;
    let hub = common::start(dir.path(), &config_text(&root_dir, true, read)).await;
    let url = format!("tcp://{}", hub.tcp_addr().expect("tcp"));
    let client = Client::connect(&url, options("c", "t", "s"))
        .await
        .expect("connect");

    let writer = ShmWriter::create(&root, "t/found", SCHEMA.as_schema()).expect("create");
    writer.set_by_name("count", 5u64).expect("write");
    let start = tokio::time::Instant::now();
    let mirror = loop {
        if let Ok(mirror) = client.subscribe("t/found").await {
            break mirror;
        }
        assert!(start.elapsed() < common::DEADLINE, "t/found not discovered");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    common::eventually("the found region's value", || {
        mirror.get::<u64>("count").ok() == Some(5)
    })
    .await;

    // A reload that changes a right, the tenant still discovering: the
    // region and its subscription go on.
    let both = r#"{ regions = "*", access = "read" }, { regions = "x", access = "read-write" }"#;
    let changes = hub
        .reload(common::config(
            dir.path(),
            &config_text(&root_dir, true, both),
        ))
        .expect("reload");
    assert!(changes.regions_removed.is_empty(), "{changes}");
    writer.set_by_name("count", 6u64).expect("write");
    common::eventually("an update after the reload", || {
        mirror.get::<u64>("count").ok() == Some(6)
    })
    .await;
    assert!(!mirror.is_ended());

    // Discovery turned off: the region is retired.
    let changes = hub
        .reload(common::config(
            dir.path(),
            &config_text(&root_dir, false, both),
        ))
        .expect("reload");
    assert_eq!(changes.regions_removed, ["t/found"], "{changes}");
    common::eventually("the end of the subscription", || mirror.is_ended()).await;

    drop(writer);
    client.close().await;
    hub.shutdown().await;
}
