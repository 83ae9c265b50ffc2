//! Typed and dynamic access, and rights: read-only clients, writes checked
//! against the schema, the cross-tenant matrix, wrong secrets, unknown
//! clients and replayed authentication. A hub in this process, clients over
//! loopback TCP.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::{Raw, XorShift, closing_error, file_snapshot, framed, options};
use memwire::codec::{Auth, ErrorCode, Frame, Subscribe, Write, WriteOutcome, WriteTarget};
use memwire::schema::Name;
use memwire::session::auth;
use memwire::{Record, region::AccessError};
use memwire_std::client::{Client, ClientError};
use memwire_std::hub::Hub;
use memwire_std::shm::{Root, ShmWriter};

const TENANTS: [&str; 2] = ["alpha", "beta"];

/// The secret of `client` in `tenant`: different in every tenant.
fn secret(tenant: &str, client: &str) -> String {
    format!("{tenant}-{client}-secret")
}

/// Two tenants, each with a read-write client `ops`, a read-only client
/// `viewer` and a region `plant` (the same names in both tenants, so that a
/// path mix-up would show).
fn config_text(root: &Path) -> String {
    let mut text = format!(
        "root = {}\n[listen]\ntcp = \"127.0.0.1:0\"\n",
        common::toml_path(root)
    );
    for tenant in TENANTS {
        text += &format!(
            r#"
[[tenant]]
name = "{tenant}"
[[tenant.client]]
name = "ops"
secret = "{ops}"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.client]]
name = "viewer"
secret = "{viewer}"
rights = [{{ regions = "*", access = "read" }}]
[[tenant.region]]
name = "plant"
variables = [
  {{ name = "temperature", kind = "f32" }},
  {{ name = "setpoint", kind = "f32", writable = true }},
  {{ name = "count", kind = "u64" }},
  {{ name = "history", kind = "i16", count = 4 }},
]
"#,
            ops = secret(tenant, "ops"),
            viewer = secret(tenant, "viewer"),
        );
    }
    text
}

/// The `plant` region as a record.
#[repr(C)]
#[derive(memwire::Schema, Clone, Copy, Debug, PartialEq)]
struct Plant {
    temperature: f32,
    #[memwire(writable)]
    setpoint: f32,
    count: u64,
    history: [i16; 4],
}

/// A record whose schema is not the region's.
#[repr(C)]
#[derive(memwire::Schema, Clone, Copy, Debug)]
struct Other {
    temperature: f32,
    setpoint: f32,
}

struct Setup {
    _dir: tempfile::TempDir,
    root: Root,
    hub: Hub,
    url: String,
    addr: SocketAddr,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_dir = dir.path().join("regions");
    let hub = common::start(dir.path(), &config_text(&root_dir)).await;
    let addr = hub.tcp_addr().expect("tcp");
    Setup {
        root: Root::new(&root_dir),
        url: format!("tcp://{addr}"),
        addr,
        hub,
        _dir: dir,
    }
}

async fn connect(s: &Setup, tenant: &str, client: &str) -> Client {
    Client::connect(&s.url, options(client, tenant, &secret(tenant, client)))
        .await
        .unwrap_or_else(|e| panic!("{tenant}/{client}: {e}"))
}

fn file_value<V: memwire::schema::Value>(root: &Root, path: &str, name: &str) -> V {
    memwire_std::shm::ShmRegion::open(root, path)
        .expect("region file")
        .get_by_name(name)
        .expect("read the region file")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_and_dynamic_access() {
    let s = setup().await;
    let client = connect(&s, "alpha", "ops").await;
    let mirror = client.subscribe("alpha/plant").await.expect("subscribe");
    let names: Vec<&str> = mirror
        .schema()
        .into_iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(names, ["temperature", "setpoint", "count", "history"]);
    assert_eq!(mirror.schema().fingerprint(), Plant::schema().fingerprint());

    // A local process stores the whole record; the mirror gets it.
    let plant = Plant {
        temperature: 21.25,
        setpoint: 19.5,
        count: 7,
        history: [1, -2, 300, -32768],
    };
    {
        let writer = ShmWriter::<Plant>::open_record(&s.root, "alpha/plant").expect("writer");
        writer.store(&plant).expect("store");
    }
    common::eventually("the record reaches the mirror", || {
        mirror.load::<Plant>().expect("load") == plant
    })
    .await;

    // Dynamic access by name, typed and raw.
    assert_eq!(mirror.get::<f32>("temperature").expect("f32"), 21.25);
    assert_eq!(mirror.get::<u64>("count").expect("u64"), 7);
    assert_eq!(
        mirror.get::<[i16; 4]>("history").expect("array"),
        [1, -2, 300, -32768]
    );
    assert_eq!(mirror.read("count").expect("raw"), 7u64.to_le_bytes());
    assert_eq!(
        mirror.read("history").expect("raw"),
        [1u8, 0, 0xfe, 0xff, 0x2c, 0x01, 0x00, 0x80]
    );

    // Access that does not match the schema is refused, not misread.
    assert!(matches!(
        mirror.get::<u32>("temperature"),
        Err(ClientError::Access(AccessError::WrongKind { .. }))
    ));
    assert!(matches!(
        mirror.get::<[i16; 3]>("history"),
        Err(ClientError::Access(AccessError::WrongLength { .. }))
    ));
    assert!(matches!(
        mirror.read("pressure"),
        Err(ClientError::UnknownVariable(name)) if name == "pressure"
    ));
    assert!(matches!(
        mirror.load::<Other>(),
        Err(ClientError::SchemaMismatch)
    ));

    // Writes through the hub, typed and raw, land in the region file and
    // come back to the mirror.
    let generation = mirror.set("setpoint", 42.5f32).await.expect("set");
    assert_eq!(file_value::<f32>(&s.root, "alpha/plant", "setpoint"), 42.5);
    common::eventually("the typed write reaches the mirror", || {
        mirror.generation() >= generation && mirror.get::<f32>("setpoint").ok() == Some(42.5)
    })
    .await;
    let generation = mirror
        .write("setpoint", &(-1.0f32).to_le_bytes())
        .await
        .expect("write");
    common::eventually("the raw write reaches the mirror", || {
        mirror.generation() >= generation
            && mirror.load::<Plant>().ok().map(|p| p.setpoint) == Some(-1.0)
    })
    .await;
    common::converges(&mirror, &s.root).await;
    client.close().await;
    s.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_client_cannot_write() {
    let s = setup().await;
    let viewer = connect(&s, "alpha", "viewer").await;
    let names: Vec<String> = viewer.regions().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["plant"]);
    let mirror = viewer.subscribe("alpha/plant").await.expect("subscribe");
    {
        let writer = ShmWriter::open(&s.root, "alpha/plant").expect("writer");
        writer.set_by_name("setpoint", 5.5f32).expect("set");
    }
    common::eventually("the viewer mirrors the region", || {
        mirror.get::<f32>("setpoint").ok() == Some(5.5)
    })
    .await;
    let before = file_snapshot(&s.root, "alpha/plant");
    for name in ["setpoint", "temperature"] {
        let refused = mirror.set(name, 1.0f32).await;
        assert!(
            matches!(refused, Err(ClientError::Hub(ErrorCode::AccessDenied))),
            "{name}: {refused:?}"
        );
    }
    assert_eq!(
        file_snapshot(&s.root, "alpha/plant"),
        before,
        "a refused write changed the region"
    );
    viewer.close().await;
    s.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_checked_against_the_schema() {
    let s = setup().await;
    let client = connect(&s, "beta", "ops").await;
    let mirror = client.subscribe("beta/plant").await.expect("subscribe");
    let before = file_snapshot(&s.root, "beta/plant");
    let cases: [(&str, &[u8], ErrorCode); 4] = [
        ("temperature", &[0, 0, 0x80, 0x3f], ErrorCode::ReadOnly),
        ("count", &[1, 0, 0, 0, 0, 0, 0, 0], ErrorCode::ReadOnly),
        ("pressure", &[0, 0, 0x80, 0x3f], ErrorCode::UnknownVariable),
        ("setpoint", &[1, 2], ErrorCode::BadValue),
    ];
    for (name, value, code) in cases {
        let refused = mirror.write(name, value).await;
        assert!(
            matches!(refused, Err(ClientError::Hub(c)) if c == code),
            "{name}: expected {code:?}, got {refused:?}"
        );
    }
    assert_eq!(
        file_snapshot(&s.root, "beta/plant"),
        before,
        "a refused write changed the region"
    );
    // The session is still usable after the refusals.
    mirror.set("setpoint", 3.0f32).await.expect("a valid write");
    assert_eq!(file_value::<f32>(&s.root, "beta/plant", "setpoint"), 3.0);
    client.close().await;
    s.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_cannot_reach_each_other() {
    let s = setup().await;
    for (me, other) in [("alpha", "beta"), ("beta", "alpha")] {
        let other_path = format!("{other}/plant");
        let other_before = file_snapshot(&s.root, &other_path);
        let other_instance = memwire_std::shm::ShmRegion::open(&s.root, &other_path)
            .expect("region")
            .instance();
        let own_instance = memwire_std::shm::ShmRegion::open(&s.root, &format!("{me}/plant"))
            .expect("region")
            .instance();

        // Through the client library, for both kinds of client.
        for client_name in ["ops", "viewer"] {
            let client = connect(&s, me, client_name).await;
            assert_eq!(
                client.regions(),
                [("plant".to_owned(), own_instance)],
                "{me}/{client_name} is listed only its own tenant's region"
            );
            assert_ne!(own_instance, other_instance);
            let refused = client.subscribe(&other_path).await;
            assert!(
                matches!(refused, Err(ClientError::Hub(ErrorCode::AccessDenied))),
                "{me}/{client_name} subscribing to {other_path}: {refused:?}"
            );
            // Its own region, under the same name, still works.
            let own = client
                .subscribe(&format!("{me}/plant"))
                .await
                .expect("own region");
            assert_eq!(own.path(), format!("{me}/plant"));
            client.close().await;
        }

        // A raw client tries harder: subscribe, then write on that handle
        // and on one it never opened.
        let mut raw = Raw::connect(s.addr).await;
        raw.authenticate(me, "ops", secret(me, "ops").as_bytes())
            .await
            .expect("authenticated");
        raw.send(&Frame::Subscribe(Subscribe {
            handle: 1,
            path: &other_path,
            resume: None,
            variables: true,
        }))
        .await;
        let answer = raw.expect_frame().await;
        match Frame::decode(&answer) {
            Ok(Frame::Error(e)) => {
                assert_eq!(
                    (e.code, e.handle),
                    (ErrorCode::AccessDenied, Some(1)),
                    "{e:?}"
                );
            }
            other => panic!("{me} subscribing to {other_path}: expected an error, got {other:?}"),
        }
        for (request, handle) in [(1u32, 1u16), (2, 0)] {
            let value = 99.0f32.to_le_bytes();
            raw.send(&Frame::Write(Write {
                request,
                handle,
                target: WriteTarget::Variable {
                    name: Name::new("setpoint").expect("name"),
                    value: &value,
                },
            }))
            .await;
            let answer = raw.expect_frame().await;
            match Frame::decode(&answer) {
                Ok(Frame::WriteResult(r)) => {
                    assert_eq!(r.request, request);
                    assert!(
                        matches!(r.outcome, WriteOutcome::Refused { .. }),
                        "{me} wrote on handle {handle}: {:?}",
                        r.outcome
                    );
                }
                other => panic!("expected a write result, got {other:?}"),
            }
        }
        assert_eq!(
            file_snapshot(&s.root, &other_path),
            other_before,
            "{me} changed {other_path}"
        );

        // The same client name with this tenant's secret is not the other
        // tenant's client.
        let crossed = Client::connect(&s.url, options("ops", other, &secret(me, "ops"))).await;
        assert!(
            matches!(crossed, Err(ClientError::Refused(ErrorCode::AuthFailed))),
            "{me}'s secret for {other}: {crossed:?}"
        );
    }
    s.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_and_unknown_client_are_refused() {
    let s = setup().await;
    let cases = [
        ("ops", "alpha", "not-the-secret".to_owned()),
        ("ops", "alpha", "alpha-ops-secre".to_owned()),
        ("ops", "alpha", secret("alpha", "viewer")),
        ("nobody", "alpha", secret("alpha", "ops")),
        ("ops", "gamma", secret("alpha", "ops")),
    ];
    for (client, tenant, key) in cases {
        let refused = Client::connect(&s.url, options(client, tenant, &key)).await;
        assert!(
            matches!(refused, Err(ClientError::Refused(ErrorCode::AuthFailed))),
            "{tenant}/{client} with {key:?}: {refused:?}"
        );
    }
    // The real client still gets in.
    let client = connect(&s, "alpha", "ops").await;
    client.subscribe("alpha/plant").await.expect("subscribe");
    client.close().await;
    s.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_auth_is_refused() {
    let s = setup().await;
    // A genuine handshake, recorded.
    let mut first = Raw::connect(s.addr).await;
    let hello = first.hello("alpha", "ops").await;
    let first_nonce = first.challenge().await;
    let proof = auth::proof(secret("alpha", "ops").as_bytes(), &first_nonce, &hello);
    first.send(&Frame::Auth(Auth { proof })).await;
    let welcome = first.expect_frame().await;
    assert!(
        matches!(Frame::decode(&welcome), Ok(Frame::Welcome(_))),
        "the recorded handshake succeeds"
    );
    let recorded = first.sent.clone();
    let (hello_bytes, auth_bytes) = recorded.split_at(framed(&hello).len());

    // Replayed step by step: the hub's new nonce makes the proof wrong.
    let mut replay = Raw::connect(s.addr).await;
    replay.send_bytes(hello_bytes).await.expect("replay hello");
    let nonce = replay.challenge().await;
    assert_ne!(nonce, first_nonce, "nonces are fresh");
    replay.send_bytes(auth_bytes).await.expect("replay auth");
    let (frames, _) = replay.until_end().await;
    assert_eq!(
        closing_error(&frames),
        Some(ErrorCode::AuthFailed),
        "the replay was not refused"
    );

    // Replayed blindly, all at once: refused too, whether the hub reads the
    // auth before its challenge went out (unexpected) or after (wrong).
    let mut blind = Raw::connect(s.addr).await;
    blind.send_bytes(&recorded).await.expect("replay");
    let (frames, _) = blind.until_end().await;
    let code = match frames.split_first() {
        Some((first, rest)) if matches!(Frame::decode(first), Ok(Frame::Challenge(_))) => {
            closing_error(rest)
        }
        _ => closing_error(&frames),
    };
    assert!(
        matches!(
            code,
            Some(ErrorCode::AuthFailed | ErrorCode::UnexpectedFrame)
        ),
        "the blind replay was not refused: {code:?}"
    );

    // A forged proof fails the same way.
    let mut forged = Raw::connect(s.addr).await;
    forged.hello("alpha", "ops").await;
    forged.challenge().await;
    let proof: [u8; 32] = XorShift::new(7).bytes(32).try_into().expect("32 bytes");
    forged.send(&Frame::Auth(Auth { proof })).await;
    let (frames, _) = forged.until_end().await;
    assert_eq!(
        closing_error(&frames),
        Some(ErrorCode::AuthFailed),
        "a forged proof was not refused"
    );

    // The genuine session is unaffected.
    first.send(&Frame::Ping { nonce: 5 }).await;
    let pong = first.expect_frame().await;
    assert_eq!(Frame::decode(&pong), Ok(Frame::Pong { nonce: 5 }));
    s.hub.shutdown().await;
}
