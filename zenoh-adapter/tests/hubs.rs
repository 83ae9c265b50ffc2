//! Hubs sharing regions over zenoh, each hub and each router a process of
//! its own on loopback: hub A owns `plant/line` (written by a local
//! process, the test) and exports tenant `plant`; the other hubs import it
//! and serve it to their clients.

mod common;

use common::{
    HubDir, LINE_VARIABLES, LocalWriter, converge, file_bytes, port, router, router_with,
    wait_until,
};
use memwire::codec::ErrorCode;
use memwire_std::client::ClientError;

const LINE: &str = "plant/line";

/// Hub A's config: it declares `plant/line` with its variables and
/// `secret/vault` likewise, and exports only tenant `plant`.
fn owner(parent: &std::path::Path, routers: &[u16]) -> HubDir {
    let line = format!("name = \"line\"\n{LINE_VARIABLES}");
    let vault = format!("name = \"vault\"\n{LINE_VARIABLES}");
    HubDir::new(
        parent,
        "a",
        &[("plant", &line), ("secret", &vault)],
        routers,
        &["plant/*"],
        &[],
    )
}

/// A mirroring hub's config: it declares both regions without variables
/// (adopting the file the bridge creates) and imports both.
fn mirror(parent: &std::path::Path, name: &str, routers: &[u16]) -> HubDir {
    HubDir::new(
        parent,
        name,
        &[("plant", "name = \"line\""), ("secret", "name = \"vault\"")],
        routers,
        &[],
        &["plant/line", "secret/vault"],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mirror_hub_serves_the_owners_bytes_and_forwards_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let r = port();
    let _router = router(r, &[]);
    let a_dir = owner(tmp.path(), &[r]);
    let b_dir = mirror(tmp.path(), "b", &[r]);
    let _a = a_dir.start();
    let local = LocalWriter::open(&a_dir.root(), LINE);
    local.change(1);
    let b = b_dir.start();
    wait_until("B's first copy", || b.status(LINE).held.is_some());

    let op = b.client("op").await;
    let mirror = op.subscribe(LINE).await.expect("subscribe at B");
    converge(&mirror, &a_dir.root(), LINE).await;
    for seed in 2..20 {
        local.change(seed);
    }
    converge(&mirror, &a_dir.root(), LINE).await;
    // Once caught up, a change arrives as a live update, not a query.
    let before = b.status(LINE);
    local.change(20);
    converge(&mirror, &a_dir.root(), LINE).await;
    wait_until("a live update applied", || {
        b.status(LINE).updates > before.updates
    });
    let after = b.status(LINE);
    assert_eq!(
        (after.full, after.deltas),
        (before.full, before.deltas),
        "{after:?}"
    );

    // A write by B's client is applied at A, answered, and seen at both.
    let generation = mirror.set("setpoint", 2.5f64).await.expect("applied");
    assert!(generation > 0);
    let at_a = file_bytes(&a_dir.root(), LINE);
    assert_eq!(
        at_a[8..16],
        2.5f64.to_le_bytes(),
        "the owner's file holds the write"
    );
    converge(&mirror, &a_dir.root(), LINE).await;
    assert_eq!(mirror.get::<f64>("setpoint").unwrap(), 2.5);

    // A read-only client of B is refused, and nothing changes at A.
    let viewer = b.client("viewer").await;
    let seen = viewer.subscribe(LINE).await.expect("subscribe at B");
    let refused = seen.set("setpoint", 9.0f64).await;
    assert!(
        matches!(refused, Err(ClientError::Hub(ErrorCode::AccessDenied))),
        "{refused:?}"
    );
    // A read-only variable is refused by the owner's schema at B already.
    let refused = mirror.set("speed", 1.0f64).await;
    assert!(
        matches!(refused, Err(ClientError::Hub(ErrorCode::ReadOnly))),
        "{refused:?}"
    );
    assert_eq!(file_bytes(&a_dir.root(), LINE)[8..16], 2.5f64.to_le_bytes());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_not_exported_is_not_seen_at_the_mirror() {
    let tmp = tempfile::tempdir().unwrap();
    let r = port();
    let _router = router(r, &[]);
    let a_dir = owner(tmp.path(), &[r]);
    let b_dir = mirror(tmp.path(), "b", &[r]);
    let a = a_dir.start();
    let local = LocalWriter::open(&a_dir.root(), LINE);
    local.change(7);
    let vault = LocalWriter::open(&a_dir.root(), "secret/vault");
    vault.change(99);
    let b = b_dir.start();
    wait_until("B's first copy", || b.status(LINE).held.is_some());
    let op = b.client("op").await;
    let mirror = op.subscribe(LINE).await.expect("subscribe");
    converge(&mirror, &a_dir.root(), LINE).await;
    // The exported tenant went through; the other saw no owner and holds
    // nothing, and its file was never made at B.
    vault.change(100);
    local.change(8);
    converge(&mirror, &a_dir.root(), LINE).await;
    let status = b.status("secret/vault");
    assert!(!status.owner_up && status.held.is_none(), "{status:?}");
    assert!(!b_dir.dir.join("root/secret/vault").exists());
    drop(a);
}

/// The access control of a router that lets hub A put both tenants on
/// zenoh and hub B only `plant`, or both with `secret_to_b`; each hub is
/// named by `subjects` (json5: the keys of subject `a`, then of `b`).
fn tenant_acl(subjects: [&str; 2], secret_to_b: bool) -> String {
    let [a, b] = subjects;
    let secret_for = if secret_to_b { r#""a", "b""# } else { r#""a""# };
    let messages = r#"["put", "delete", "declare_subscriber", "query", "reply",
        "declare_queryable", "liveliness_token", "declare_liveliness_subscriber",
        "liveliness_query"]"#;
    format!(
        r#"enabled: true,
        default_permission: "deny",
        rules: [
          {{ id: "plant", permission: "allow", flows: ["ingress", "egress"],
             messages: {messages}, key_exprs: ["memwire/plant/**"] }},
          {{ id: "secret", permission: "allow", flows: ["ingress", "egress"],
             messages: {messages}, key_exprs: ["memwire/secret/**"] }},
        ],
        subjects: [{{ id: "a", {a} }}, {{ id: "b", {b} }}],
        policies: [
          {{ rules: ["plant"], subjects: ["a", "b"] }},
          {{ rules: ["secret"], subjects: [{secret_for}] }},
        ],"#
    )
}

/// Both hubs' bridges ask for tenant `secret` (A exports it, B imports
/// it); the router's access control, keyed by each hub's zenoh ID, keeps
/// it from B.
#[tokio::test(flavor = "multi_thread")]
async fn a_router_keeps_a_tenant_from_a_hub_its_access_control_denies() {
    let tmp = tempfile::tempdir().unwrap();
    let r = port();
    let acl = tenant_acl([r#"zids: ["a1"]"#, r#"zids: ["b1"]"#], false);
    let _router = router_with(r, &[], Some(&acl), None);
    secret_kept_from_b(tmp.path(), r, ["id = \"a1\"", "id = \"b1\""]).await;
}

/// The same, each hub named by the user it logs in to the router as
/// (zenoh's username/password authentication).
#[tokio::test(flavor = "multi_thread")]
async fn a_router_keeps_a_tenant_from_a_hub_by_the_user_it_logs_in_as() {
    let tmp = tempfile::tempdir().unwrap();
    let r = port();
    let users = tmp.path().join("users");
    std::fs::write(&users, "hub-a:a-password\nhub-b:b-password\n").unwrap();
    let acl = tenant_acl(
        [r#"usernames: ["hub-a"]"#, r#"usernames: ["hub-b"]"#],
        false,
    );
    let _router = router_with(r, &[], Some(&acl), Some(&users));
    let logins = [
        "user = \"hub-a\"\npassword = \"a-password\"",
        "user = \"hub-b\"\npassword = \"b-password\"",
    ];
    secret_kept_from_b(tmp.path(), r, logins).await;
}

/// A hub that names a user with the wrong password is not let in: it
/// cannot claim another hub's identity by its name alone.
#[tokio::test(flavor = "multi_thread")]
async fn a_hub_with_a_wrong_password_receives_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let r = port();
    let users = tmp.path().join("users");
    std::fs::write(&users, "hub-a:a-password\nhub-b:b-password\n").unwrap();
    let acl = tenant_acl(
        [r#"usernames: ["hub-a"]"#, r#"usernames: ["hub-b"]"#],
        false,
    );
    let _router = router_with(r, &[], Some(&acl), Some(&users));
    let a_dir = owner(tmp.path(), &[r]).with_zenoh("user = \"hub-a\"\npassword = \"a-password\"");
    let intruder =
        mirror(tmp.path(), "c", &[r]).with_zenoh("user = \"hub-b\"\npassword = \"guessed\"");
    let b_dir =
        mirror(tmp.path(), "b", &[r]).with_zenoh("user = \"hub-b\"\npassword = \"b-password\"");
    let _a = a_dir.start();
    let local = LocalWriter::open(&a_dir.root(), LINE);
    local.change(1);
    let c = intruder.start();
    let b = b_dir.start();
    wait_until("B's first copy", || b.status(LINE).held.is_some());
    let op = b.client("op").await;
    let mirror = op.subscribe(LINE).await.expect("subscribe");
    local.change(2);
    converge(&mirror, &a_dir.root(), LINE).await;
    // C started first and asks for the same region, as the same user.
    let status = c.status(LINE);
    assert!(!status.owner_up && status.held.is_none(), "{status:?}");
}

/// Hub A exports tenants `plant` and `secret`, hub B imports both, each
/// with `zenoh_keys` in its `[zenoh]` section, through router `r`: B
/// mirrors `plant` and receives nothing of `secret`.
async fn secret_kept_from_b(tmp: &std::path::Path, r: u16, zenoh_keys: [&str; 2]) {
    let line = format!("name = \"line\"\n{LINE_VARIABLES}");
    let vault = format!("name = \"vault\"\n{LINE_VARIABLES}");
    let regions = [("plant", line.as_str()), ("secret", vault.as_str())];
    let exports = ["plant/*", "secret/*"];
    let a_dir = HubDir::new(tmp, "a", &regions, &[r], &exports, &[]).with_zenoh(zenoh_keys[0]);
    let b_dir = mirror(tmp, "b", &[r]).with_zenoh(zenoh_keys[1]);
    let _a = a_dir.start();
    let local = LocalWriter::open(&a_dir.root(), LINE);
    local.change(7);
    let vault = LocalWriter::open(&a_dir.root(), "secret/vault");
    vault.change(99);
    let b = b_dir.start();
    wait_until("B's first copy", || b.status(LINE).held.is_some());
    let op = b.client("op").await;
    let mirror = op.subscribe(LINE).await.expect("subscribe");
    converge(&mirror, &a_dir.root(), LINE).await;
    // B's bridge asked for the vault and A's put it on zenoh; the router
    // let none of it through: no owner, no copy, no file.
    vault.change(100);
    local.change(8);
    converge(&mirror, &a_dir.root(), LINE).await;
    let status = b.status("secret/vault");
    assert!(!status.owner_up && status.held.is_none(), "{status:?}");
    assert!(!b_dir.dir.join("root/secret/vault").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn restarts_resume_with_a_delta_and_a_new_owner_instance_is_copied_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let r = port();
    let _router = router(r, &[]);
    let a_dir = owner(tmp.path(), &[r]);
    let b_dir = mirror(tmp.path(), "b", &[r]);
    let mut a = a_dir.start();
    let local = LocalWriter::open(&a_dir.root(), LINE);
    local.change(1);
    let mut b = b_dir.start();
    wait_until("B's first copy", || b.status(LINE).held.is_some());
    let first = b.status(LINE);
    assert_eq!((first.full, first.deltas), (1, 0), "{first:?}");

    let stale = "memwire_region_stale";
    wait_until("B to show its copy fresh", || {
        b.metric(stale, LINE) == Some(0.0)
    });
    assert_eq!(
        a.metric(stale, LINE),
        None,
        "an exported region is not stale"
    );

    // A restarts with the same file: B resyncs with a delta.
    a.process.kill();
    wait_until("B to see the owner lost", || !b.status(LINE).owner_up);
    wait_until("B to show its copy stale", || {
        b.metric(stale, LINE) == Some(1.0)
    });
    local.change(2);
    let _a = a_dir.start();
    wait_until("a delta after A's restart", || b.status(LINE).deltas == 1);
    assert_eq!(b.status(LINE).full, 1, "no full copy for the same instance");
    wait_until("B to show its copy fresh again", || {
        b.metric(stale, LINE) == Some(0.0)
    });
    let op = b.client("op").await;
    let mirror = op.subscribe(LINE).await.expect("subscribe");
    converge(&mirror, &a_dir.root(), LINE).await;
    drop(mirror);
    op.close().await;

    // B restarts: it resumes from its file with a delta.
    b.process.kill();
    local.change(3);
    let b = b_dir.start();
    wait_until("B's resync after its restart", || {
        let s = b.status(LINE);
        s.full + s.deltas > 0
    });
    let resumed = b.status(LINE);
    assert_eq!((resumed.full, resumed.deltas), (0, 1), "{resumed:?}");
    let op = b.client("op").await;
    let mirror = op.subscribe(LINE).await.expect("subscribe");
    converge(&mirror, &a_dir.root(), LINE).await;
    drop(mirror);
    op.close().await;

    // A comes back with a new file (a new instance): a full copy.
    drop(_a);
    drop(local);
    wait_until("B to see the owner lost", || !b.status(LINE).owner_up);
    std::fs::remove_file(a_dir.dir.join("root/plant/line")).unwrap();
    let _a = a_dir.start();
    let local = LocalWriter::open(&a_dir.root(), LINE);
    local.change(4);
    wait_until("a full copy of the new instance", || {
        b.status(LINE).full == 1
    });
    let op = b.client("op").await;
    let mirror = op.subscribe(LINE).await.expect("subscribe");
    converge(&mirror, &a_dir.root(), LINE).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn both_hubs_go_on_through_the_other_router_when_one_is_killed() {
    let tmp = tempfile::tempdir().unwrap();
    let (r1, r2) = (port(), port());
    let mut first = router(r1, &[]);
    let _second = router(r2, &[r1]);
    let a_dir = owner(tmp.path(), &[r1, r2]);
    let b_dir = mirror(tmp.path(), "b", &[r1, r2]);
    let _a = a_dir.start();
    let local = LocalWriter::open(&a_dir.root(), LINE);
    local.change(1);
    let b = b_dir.start();
    wait_until("B's first copy", || b.status(LINE).held.is_some());
    let op = b.client("op").await;
    let mirror = op.subscribe(LINE).await.expect("subscribe");
    converge(&mirror, &a_dir.root(), LINE).await;

    first.kill();
    for seed in 2..40 {
        local.change(seed);
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    converge(&mirror, &a_dir.root(), LINE).await;
    local.change(41);
    converge(&mirror, &a_dir.root(), LINE).await;
    // Writes go through the other router too.
    mirror
        .set("setpoint", 7.0f64)
        .await
        .expect("applied after the failover");
    assert_eq!(file_bytes(&a_dir.root(), LINE)[8..16], 7.0f64.to_le_bytes());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_third_hub_imports_the_same_region() {
    let tmp = tempfile::tempdir().unwrap();
    let r = port();
    let _router = router(r, &[]);
    let a_dir = owner(tmp.path(), &[r]);
    let b_dir = mirror(tmp.path(), "b", &[r]);
    let c_dir = mirror(tmp.path(), "c", &[r]);
    let _a = a_dir.start();
    let local = LocalWriter::open(&a_dir.root(), LINE);
    local.change(1);
    let b = b_dir.start();
    let c = c_dir.start();
    wait_until("B's and C's first copies", || {
        b.status(LINE).held.is_some() && c.status(LINE).held.is_some()
    });
    let (at_b, at_c) = (b.client("op").await, c.client("viewer").await);
    let (mirror_b, mirror_c) = (
        at_b.subscribe(LINE).await.expect("subscribe at B"),
        at_c.subscribe(LINE).await.expect("subscribe at C"),
    );
    for seed in 2..10 {
        local.change(seed);
    }
    converge(&mirror_b, &a_dir.root(), LINE).await;
    converge(&mirror_c, &a_dir.root(), LINE).await;
    // A write through B reaches C's clients too.
    mirror_b.set("setpoint", 3.5f64).await.expect("applied");
    converge(&mirror_c, &a_dir.root(), LINE).await;
    assert_eq!(mirror_c.get::<f64>("setpoint").unwrap(), 3.5);
}

#[tokio::test(flavor = "multi_thread")]
async fn hubs_started_before_their_router_link_up_once_it_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let r = port();
    let a_dir = owner(tmp.path(), &[r]);
    let b_dir = mirror(tmp.path(), "b", &[r]);
    let _a = a_dir.start();
    let local = LocalWriter::open(&a_dir.root(), LINE);
    local.change(1);
    let b = b_dir.start();
    let _router = router(r, &[]);
    wait_until("B's first copy", || b.status(LINE).held.is_some());
    let op = b.client("op").await;
    let mirror = op.subscribe(LINE).await.expect("subscribe");
    converge(&mirror, &a_dir.root(), LINE).await;
}
