//! TLS: a hub with a certificate made in the test serves clients that trust
//! it; a plaintext client against the TLS port, a client that does not
//! trust the certificate and one that names another host fail cleanly.

mod common;

use std::time::Duration;

use common::options;
use memwire_std::client::{Client, ClientError, ClientOptions};
use memwire_std::hub::Hub;
use memwire_std::shm::{Root, ShmWriter};
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Setup {
    dir: tempfile::TempDir,
    hub: Hub,
    port: u16,
    cert: CertificateDer<'static>,
}

impl Setup {
    fn root(&self) -> Root {
        Root::new(self.dir.path().join("regions"))
    }
}

/// A hub listening with TLS only, on a self-signed certificate for
/// `localhost` (paths relative to the configuration's directory).
async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    std::fs::write(dir.path().join("cert.pem"), certified.cert.pem()).expect("cert.pem");
    std::fs::write(
        dir.path().join("key.pem"),
        certified.signing_key.serialize_pem(),
    )
    .expect("key.pem");
    let text = r#"
root = "regions"
[listen]
tcp = ""
[listen.tls]
addr = "127.0.0.1:0"
cert = "cert.pem"
key = "key.pem"
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
]
"#;
    let hub = common::start(dir.path(), text).await;
    assert_eq!(hub.tcp_addr(), None, "plain TCP is off");
    let port = hub.tls_addr().expect("tls").port();
    Setup {
        dir,
        hub,
        port,
        cert: certified.cert.der().clone(),
    }
}

fn trusting(cert: &CertificateDer<'static>) -> ClientOptions {
    let mut options = options("ops", "t", "ops-secret");
    options.tls_roots = vec![cert.clone()];
    options.connect_timeout = Duration::from_secs(3);
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_subscribes_reads_and_writes() {
    let s = setup().await;
    let url = format!("tls://localhost:{}", s.port);
    let client = Client::connect(&url, trusting(&s.cert))
        .await
        .expect("connect over TLS");
    let mirror = client.subscribe("t/line").await.expect("subscribe");
    {
        let writer = ShmWriter::open(&s.root(), "t/line").expect("local writer");
        writer.set_by_name("tick", 41u64).expect("tick");
    }
    common::eventually("a change reaches the TLS client", || {
        mirror.get::<u64>("tick").ok() == Some(41)
    })
    .await;
    let generation = mirror
        .set("setpoint", 0.5f32)
        .await
        .expect("write over TLS");
    common::eventually("the write comes back", || mirror.generation() >= generation).await;
    common::converges(&mirror, &s.root()).await;
    assert_eq!(mirror.get::<f32>("setpoint").expect("setpoint"), 0.5);
    client.close().await;
    s.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_transport_or_certificate_fails_cleanly() {
    let s = setup().await;

    // A memwire client speaking plaintext to the TLS port.
    let plain = Client::connect(&format!("tcp://127.0.0.1:{}", s.port), trusting(&s.cert)).await;
    assert!(
        matches!(plain, Err(ClientError::Disconnected)),
        "a plaintext client over the TLS port was not closed: {plain:?}"
    );

    // The same, raw: the hub closes the connection rather than waiting.
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", s.port))
        .await
        .expect("connect");
    let hello = common::body(&memwire::codec::Frame::Hello(memwire::codec::Hello {
        version: memwire::codec::PROTOCOL_VERSION,
        max_frame: 65_536,
        client: "ops",
        tenant: "t",
    }));
    raw.write_all(&common::framed(&hello)).await.expect("send");
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(common::DEADLINE, raw.read(&mut buf)).await {
            Err(_) => panic!("the TLS port kept a plaintext connection open"),
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(_)) => {}
        }
    }

    // A client that does not trust the certificate.
    let mut untrusting = trusting(&s.cert);
    untrusting.tls_roots.clear();
    let refused = Client::connect(&format!("tls://localhost:{}", s.port), untrusting).await;
    assert!(matches!(refused, Err(ClientError::Tls(_))), "{refused:?}");

    // A client that expects another name than the certificate's.
    let refused = Client::connect(&format!("tls://127.0.0.1:{}", s.port), trusting(&s.cert)).await;
    assert!(matches!(refused, Err(ClientError::Tls(_))), "{refused:?}");

    // The hub still serves a proper client.
    let client = Client::connect(&format!("tls://localhost:{}", s.port), trusting(&s.cert))
        .await
        .expect("connect over TLS");
    client.subscribe("t/line").await.expect("subscribe");
    client.close().await;
    s.hub.shutdown().await;
}
