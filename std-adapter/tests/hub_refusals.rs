//! What the hub refuses, as `docs/hub.md` says: a remote write while a
//! local writer holds the region (`Busy`, nothing written), a write larger
//! than the hub's frame (`TooLarge`), and a region file of another schema
//! at start.

mod common;

use common::{options, toml_path};
use memwire::codec::ErrorCode;
use memwire::layout::LayoutError;
use memwire::schema::{Kind, SchemaBuilder};
use memwire_std::client::{Client, ClientError};
use memwire_std::hub::{Hub, HubError};
use memwire_std::shm::{Root, ShmError, ShmRegion, ShmWriter};

/// More bytes than the hub's default largest frame (64 KiB).
const BLOB: usize = 70_000;

fn config_text(root: &std::path::Path) -> String {
    format!(
        r#"
root = {root}
[listen]
tcp = "127.0.0.1:0"
[[tenant]]
name = "t"
[[tenant.client]]
name = "c"
secret = "s"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.region]]
name = "r"
variables = [
  {{ name = "setpoint", kind = "f32", writable = true }},
  {{ name = "blob", kind = "u8", count = {BLOB}, writable = true }},
]
"#,
        root = toml_path(root),
    )
}

/// A hub on a fresh root and a read-write client of it.
async fn hub_and_client(dir: &std::path::Path) -> (Hub, Client, Root) {
    let root_dir = dir.join("regions");
    let hub = common::start(dir, &config_text(&root_dir)).await;
    let url = format!("tcp://{}", hub.tcp_addr().expect("tcp"));
    let client = Client::connect(&url, options("c", "t", "s"))
        .await
        .expect("connect");
    (hub, client, Root::new(root_dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_write_while_a_local_writer_holds_the_region_is_busy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (hub, client, root) = hub_and_client(dir.path()).await;
    let mirror = client.subscribe("t/r").await.expect("subscribe");

    let local = ShmWriter::open(&root, "t/r").expect("local writer");
    let before = common::file_snapshot(&root, "t/r");
    let refused = mirror.set("setpoint", 2.5f32).await;
    assert!(
        matches!(refused, Err(ClientError::Hub(ErrorCode::Busy))),
        "{refused:?}"
    );
    assert_eq!(
        common::file_snapshot(&root, "t/r"),
        before,
        "a refused write changed the region file"
    );

    // The lock gone, the same write applies.
    drop(local);
    let generation = mirror.set("setpoint", 2.5f32).await.expect("write");
    let file = ShmRegion::open(&root, "t/r").expect("region");
    assert!(file.generation().expect("generation") >= generation);
    assert_eq!(file.get_by_name::<f32>("setpoint").expect("setpoint"), 2.5);
    client.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_larger_than_the_hubs_frame_is_too_large() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (hub, client, root) = hub_and_client(dir.path()).await;
    let mirror = client.subscribe("t/r").await.expect("subscribe");
    let before = common::file_snapshot(&root, "t/r");

    let refused = mirror.write("blob", &vec![7u8; BLOB]).await;
    assert!(matches!(refused, Err(ClientError::TooLarge)), "{refused:?}");
    assert_eq!(common::file_snapshot(&root, "t/r"), before);

    // The connection is still good for a write that fits.
    mirror.set("setpoint", 1.0f32).await.expect("a small write");
    client.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_file_of_another_schema_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let root = Root::new(&root_dir);
    let other = SchemaBuilder::<1>::new()
        .var("setpoint", Kind::F64, 1)
        .build();
    let writer = ShmWriter::create(&root, "t/r", other.as_schema()).expect("create");
    writer.set_by_name("setpoint", 4.0f64).expect("write");
    drop(writer);
    let before = common::file_snapshot(&root, "t/r");

    let config = common::config(dir.path(), &config_text(&root_dir));
    let refused = Hub::start(config).await;
    match refused {
        Err(HubError::Region {
            path,
            source:
                ShmError::BadHeader {
                    source: LayoutError::SchemaMismatch,
                    ..
                },
        }) => assert_eq!(path, "t/r"),
        Err(e) => panic!("refused, but not as a region of another schema: {e:?}"),
        Ok(_) => panic!("the hub started on a region file of another schema"),
    }
    // The file is left as it was.
    assert_eq!(common::file_snapshot(&root, "t/r"), before);
}
