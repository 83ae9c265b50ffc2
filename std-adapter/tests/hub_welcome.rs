//! The welcome of a hub whose tenant has many regions: a connection's
//! buffers are small until the proof checks, and grow before the welcome
//! is written, which lists every region that fits the client's frame.

mod common;

use common::Raw;
use memwire::codec::{Auth, Frame};
use memwire::session::auth;

/// Regions in the welcome test: their list is far longer than the
/// transmit buffer of an unauthenticated connection.
const REGIONS: usize = 40;

#[tokio::test]
async fn the_welcome_still_lists_every_region() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = format!(
        r#"
root = {root}
[listen]
tcp = "127.0.0.1:0"
[[tenant]]
name = "t"
[[tenant.client]]
name = "ops"
secret = "ops-secret"
rights = [{{ regions = "*", access = "read" }}]
"#,
        root = common::toml_path(dir.path()),
    );
    for i in 0..REGIONS {
        text.push_str(&format!(
            "[[tenant.region]]\nname = \"a-region-with-a-long-name-{i:02}\"\n\
             variables = [{{ name = \"tick\", kind = \"u64\" }}]\n"
        ));
    }
    let hub = common::start(dir.path(), &text).await;
    let mut raw = Raw::connect(hub.tcp_addr().expect("tcp")).await;
    let hello = raw.hello("t", "ops").await;
    let nonce = raw.challenge().await;
    let proof = auth::proof(b"ops-secret", &nonce, &hello);
    raw.send(&Frame::Auth(Auth { proof })).await;
    let welcome = raw.expect_frame().await;
    match Frame::decode(&welcome) {
        Ok(Frame::Welcome(w)) => {
            assert!(w.complete, "the welcome left regions out");
            assert!(w.regions.as_bytes().len() > 2 * HANDSHAKE_OUT);
            assert_eq!(w.regions.iter().count(), REGIONS);
        }
        other => panic!("expected a welcome, got {other:?}"),
    }
    drop(raw);
    hub.shutdown().await;
}

/// The hub's transmit buffer before the proof checked (`HANDSHAKE_OUT` of
/// its `connection.rs`).
const HANDSHAKE_OUT: usize = 256;
