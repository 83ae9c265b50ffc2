//! Hybrid access: a client on the hub's Unix socket that knows the hub's
//! shared-memory root reads the region file itself, behind the same
//! `Mirror` API, and sees what remote clients write; without the root, or
//! over TCP, a mirror is an ordinary remote copy.

mod common;

use common::{converges, file_snapshot, options};
use memwire_std::client::{Client, ClientError, ClientOptions, Mirror};
use memwire_std::hub::Hub;
use memwire_std::shm::{Root, ShmWriter};

struct Setup {
    _dir: tempfile::TempDir,
    hub: Hub,
    root: Root,
    unix: String,
    tcp: String,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = r#"
root = "regions"
[listen]
tcp = "127.0.0.1:0"
unix = "hub.sock"
[[tenant]]
name = "t"
[[tenant.client]]
name = "ops"
secret = "ops-secret"
rights = [{ regions = "*", access = "read-write" }]
[[tenant.region]]
name = "line"
variables = [
  { name = "tick", kind = "u64" },
  { name = "setpoint", kind = "f32", writable = true },
  { name = "samples", kind = "u16", count = 64 },
]
"#;
    let hub = common::start(dir.path(), text).await;
    let socket = hub.unix_path().expect("unix socket").to_owned();
    assert_eq!(socket, dir.path().join("hub.sock"));
    Setup {
        root: Root::new(dir.path().join("regions")),
        unix: format!("unix://{}", socket.display()),
        tcp: format!("tcp://{}", hub.tcp_addr().expect("tcp")),
        hub,
        _dir: dir,
    }
}

fn local_options(root: &Root) -> ClientOptions {
    let mut options = options("ops", "t", "ops-secret");
    options.local_root = Some(root.clone());
    options
}

async fn mirror(url: &str, options: ClientOptions) -> (Client, Mirror) {
    let client = Client::connect(url, options)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let mirror = client.subscribe("t/line").await.expect("subscribe");
    (client, mirror)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mirror_reads_the_file_and_sees_remote_writes() {
    let s = setup().await;
    let (local_client, local) = mirror(&s.unix, local_options(&s.root)).await;
    assert!(
        local.is_local(),
        "a client on the Unix socket with the root maps the file"
    );
    let (remote_client, remote) = mirror(&s.tcp, options("ops", "t", "ops-secret")).await;
    assert!(!remote.is_local());
    let mut changes = local.changes();

    // A remote write: the hub applies it to the file before it answers, so
    // the local mirror shows it as soon as the write is acknowledged.
    let generation = remote.set("setpoint", 3.25f32).await.expect("remote write");
    assert_eq!(local.get::<f32>("setpoint").expect("local read"), 3.25);
    assert!(local.generation() >= generation);
    // Its change events still come, naming the variable.
    let setpoint = local.schema().find("setpoint").expect("setpoint");
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    loop {
        let event = tokio::time::timeout_at(deadline, changes.next())
            .await
            .expect("a change event for the remote write")
            .expect("events");
        if event.variables.contains(&setpoint) {
            break;
        }
    }

    // A local writer: the local mirror reads the same memory at once.
    let samples: [u16; 64] = std::array::from_fn(|i| u16::try_from(i * 1000).expect("fits"));
    {
        let writer = ShmWriter::open(&s.root, "t/line").expect("local writer");
        writer.set_by_name("samples", samples).expect("samples");
        writer.set_by_name("tick", 5u64).expect("tick");
    }
    assert_eq!(local.get::<[u16; 64]>("samples").expect("samples"), samples);
    assert_eq!(local.read("tick").expect("tick"), 5u64.to_le_bytes());
    assert_eq!(
        local.snapshot().expect("snapshot"),
        file_snapshot(&s.root, "t/line")
    );
    common::eventually("the remote mirror gets the local change", || {
        remote.get::<u64>("tick").ok() == Some(5)
    })
    .await;

    // The local mirror writes through the hub; the remote one sees it.
    local.set("setpoint", -8.5f32).await.expect("local write");
    common::eventually("the remote mirror gets the local client's write", || {
        remote.get::<f32>("setpoint").ok() == Some(-8.5)
    })
    .await;
    converges(&remote, &s.root).await;
    converges(&local, &s.root).await;
    local_client.close().await;
    remote_client.close().await;
    s.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_root_or_over_tcp_a_mirror_is_remote() {
    let s = setup().await;
    // On the Unix socket, without the root.
    let (unix_client, unix) = mirror(&s.unix, options("ops", "t", "ops-secret")).await;
    assert!(!unix.is_local());
    // Over TCP, with the root: the file is only used over the Unix socket.
    let (tcp_client, tcp) = mirror(&s.tcp, local_options(&s.root)).await;
    assert!(!tcp.is_local());

    let generation = tcp.set("setpoint", 1.5f32).await.expect("write over TCP");
    common::eventually("the unix client gets the write", || {
        unix.generation() >= generation && unix.get::<f32>("setpoint").ok() == Some(1.5)
    })
    .await;
    unix.set("setpoint", 2.5f32)
        .await
        .expect("write over the Unix socket");
    common::eventually("the tcp client gets the write", || {
        tcp.get::<f32>("setpoint").ok() == Some(2.5)
    })
    .await;
    converges(&unix, &s.root).await;
    converges(&tcp, &s.root).await;
    unix_client.close().await;
    tcp_client.close().await;
    s.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_and_remote_mirrors_fail_alike() {
    // User code must not change between local and remote mirrors: that
    // includes the errors it matches on.
    let s = setup().await;
    let (local_client, local) = mirror(&s.unix, local_options(&s.root)).await;
    let (remote_client, remote) = mirror(&s.tcp, options("ops", "t", "ops-secret")).await;
    assert!(local.is_local() && !remote.is_local());
    let describe = |e: ClientError| match e {
        ClientError::Access(a) => format!("Access({a:?})"),
        ClientError::UnknownVariable(name) => format!("UnknownVariable({name})"),
        other => format!("{other:?}"),
    };
    let mut differ = Vec::new();
    for (what, local_err, remote_err) in [
        (
            "get::<u32> of an f32",
            local.get::<u32>("setpoint").map(|_| ()),
            remote.get::<u32>("setpoint").map(|_| ()),
        ),
        (
            "get::<[u16; 3]> of a u16[64]",
            local.get::<[u16; 3]>("samples").map(|_| ()),
            remote.get::<[u16; 3]>("samples").map(|_| ()),
        ),
        (
            "get of a missing variable",
            local.get::<u64>("missing").map(|_| ()),
            remote.get::<u64>("missing").map(|_| ()),
        ),
        (
            "read of a missing variable",
            local.read("missing").map(|_| ()),
            remote.read("missing").map(|_| ()),
        ),
    ] {
        let local_err = describe(local_err.expect_err(what));
        let remote_err = describe(remote_err.expect_err(what));
        if local_err != remote_err {
            differ.push(format!("{what}: local {local_err}, remote {remote_err}"));
        }
    }
    assert!(
        differ.is_empty(),
        "local and remote mirrors differ:\n{}",
        differ.join("\n")
    );
    local_client.close().await;
    remote_client.close().await;
    s.hub.shutdown().await;
}
