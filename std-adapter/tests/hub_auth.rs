//! Refused logins: every failure gets the same answer, the operator's log
//! says which it was (held to a few lines a second), and a source whose
//! logins fail waits longer for each next answer while others do not.

mod common;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{Raw, closing_error};
use memwire::codec::{Auth, ErrorCode, Frame};
use memwire::session::auth;
use tokio::net::TcpSocket;

/// A hub configuration with `limits` (TOML lines of `[limits]`), tenant `t`
/// with the clients `ops` and `logs` and one region.
fn config_text(root: &Path, limits: &str) -> String {
    format!(
        r#"
root = {root}
[listen]
tcp = "127.0.0.1:0"
[limits]
{limits}
[[tenant]]
name = "t"
[[tenant.client]]
name = "ops"
secret = "ops-secret"
rights = [{{ regions = "*", access = "read" }}]
[[tenant.client]]
name = "logs"
secret = "logs-secret"
rights = []
[[tenant.region]]
name = "small"
variables = [{{ name = "tick", kind = "u64" }}]
"#,
        root = common::toml_path(root),
    )
}

/// Connects to `hub` from the loopback address `127.0.0.<from>`.
async fn connect_from(hub: SocketAddr, from: u8) -> Raw {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, from)),
            0,
        ))
        .expect("bind");
    Raw::new(socket.connect(hub).await.expect("connect"))
}

/// A login of `client` of `tenant` with `secret`, up to the end of the
/// stream: the frames the hub sent after the challenge.
async fn fail_login(raw: &mut Raw, tenant: &str, client: &str, secret: &[u8]) -> Vec<Vec<u8>> {
    let hello = raw.hello(tenant, client).await;
    let nonce = raw.challenge().await;
    let proof = auth::proof(secret, &nonce, &hello);
    raw.send(&Frame::Auth(Auth { proof })).await;
    raw.until_end().await.0
}

/// The log lines of every test of this file, as the `fmt` subscriber
/// writes them.
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || LogWriter(Arc::clone(&sink)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buf
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The "login refused" lines logged so far that contain `mark`.
fn refusals(mark: &str) -> Vec<String> {
    let text = String::from_utf8(log().lock().expect("log").clone()).expect("utf-8");
    text.lines()
        .filter(|l| l.contains("login refused") && l.contains(mark))
        .map(str::to_owned)
        .collect()
}

/// The number after `key=` in `line`.
fn number(line: &str, key: &str) -> u64 {
    let at = line
        .find(key)
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + key.len();
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {key} in {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_is_answered_alike_and_logged_with_its_reason() {
    log();
    let dir = tempfile::tempdir().expect("tempdir");
    let text = config_text(&dir.path().join("regions"), "auth_delay_ms = 0");
    let hub = common::start(dir.path(), &text).await;
    let addr = hub.tcp_addr().expect("tcp");

    let cases = [
        ("nope", "reason-a", &b"ops-secret"[..], "unknown tenant"),
        ("t", "reason-b", &b"ops-secret"[..], "unknown client"),
        ("t", "logs", &b"wrong"[..], "wrong proof"),
    ];
    let mut answers = Vec::new();
    for (tenant, client, secret, _) in cases {
        let mut raw = Raw::connect(addr).await;
        answers.push(fail_login(&mut raw, tenant, client, secret).await);
    }
    assert_eq!(closing_error(&answers[0]), Some(ErrorCode::AuthFailed));
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "the answers differ: {answers:?}"
    );

    for (tenant, client, _, reason) in cases {
        let lines: Vec<String> = refusals(&format!("reason={reason}"))
            .into_iter()
            .filter(|l| l.contains(&format!("client=\"{client}\"")))
            .collect();
        assert_eq!(lines.len(), 1, "{reason}: {lines:?}");
        let line = &lines[0];
        assert!(line.contains(" WARN "), "{line}");
        assert!(line.contains(&format!("tenant=\"{tenant}\"")), "{line}");
        assert!(line.contains("peer=127.0.0.1:"), "{line}");
    }
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refusals_is_logged_a_few_lines_a_second_with_a_count() {
    log();
    let dir = tempfile::tempdir().expect("tempdir");
    let text = config_text(&dir.path().join("regions"), "auth_delay_ms = 0");
    let hub = common::start(dir.path(), &text).await;
    let addr = hub.tcp_addr().expect("tcp");
    const FLOOD: u64 = 100;
    let started = Instant::now();
    for _ in 0..FLOOD {
        let mut raw = Raw::connect(addr).await;
        let answer = fail_login(&mut raw, "t", "flood", b"x").await;
        assert_eq!(closing_error(&answer), Some(ErrorCode::AuthFailed));
    }
    let took = started.elapsed();
    // One more once the second is over: its line counts those not logged.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut raw = Raw::connect(addr).await;
    fail_login(&mut raw, "t", "flood", b"x").await;

    let lines = refusals("client=\"flood\"");
    let suppressed: u64 = lines.iter().map(|l| number(l, "suppressed=")).sum();
    assert_eq!(
        lines.len() as u64 + suppressed,
        FLOOD + 1,
        "every refusal is logged or counted: {lines:#?}"
    );
    // At most 10 lines in each one-second window the flood touched, and
    // the last. The windows are the log's, not the test's: the first one
    // opened when the hub started, so a flood of `took` touches at most
    // `took.as_secs() + 2` of them.
    let seconds = took.as_secs() + 2;
    assert!(
        (lines.len() as u64) <= 10 * seconds + 1,
        "{} lines for {FLOOD} refusals in {took:?}",
        lines.len()
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_source_waits_for_its_answer_and_others_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = config_text(
        &dir.path().join("regions"),
        "auth_delay_ms = 1500\nauth_delay_max_ms = 8000",
    );
    let hub = common::start(dir.path(), &text).await;
    let addr = hub.tcp_addr().expect("tcp");

    // A wrong proof from 127.0.0.1.
    let mut first = connect_from(addr, 1).await;
    let hello = first.hello("t", "ops").await;
    let nonce = first.challenge().await;
    let sent = Instant::now();
    let proof = auth::proof(b"wrong", &nonce, &hello);
    first.send(&Frame::Auth(Auth { proof })).await;
    assert_eq!(
        closing_error(&first.until_end().await.0),
        Some(ErrorCode::AuthFailed)
    );

    // Its next connection waits for its challenge...
    let mut again = connect_from(addr, 1).await;
    let waiting = tokio::spawn(async move {
        let hello = again.hello("t", "ops").await;
        let nonce = again.challenge().await;
        let answered = sent.elapsed();
        let proof = auth::proof(b"ops-secret", &nonce, &hello);
        again.send(&Frame::Auth(Auth { proof })).await;
        let welcome = again.expect_frame().await;
        (
            answered,
            matches!(Frame::decode(&welcome), Ok(Frame::Welcome(_))),
        )
    });
    // ...while another source is answered at once.
    let mut other = connect_from(addr, 2).await;
    other
        .authenticate("t", "ops", b"ops-secret")
        .await
        .expect("another source logs in");
    assert!(
        !waiting.is_finished(),
        "the failing source was answered before another source"
    );

    let (answered, welcome) = waiting.await.expect("task");
    assert!(
        answered >= Duration::from_millis(1500),
        "the failing source was answered after {answered:?}"
    );
    // A right proof is welcomed, after the wait like any other.
    assert!(welcome, "the right proof was not welcomed");
    hub.shutdown().await;
}
