//! The web view on the HTTP listener (`[web] enabled`): the page's files
//! with their content types, `/web.json` naming the WebSocket listeners'
//! ports, 404s for other paths, `/metrics` beside them, and nothing of the
//! page while the switch is off.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A hub with its HTTP and WebSocket listeners, the web view on or off,
/// and one region.
fn config_text(root: &Path, web: bool) -> String {
    format!(
        r#"root = {}
[listen]
tcp = "127.0.0.1:0"
http = "127.0.0.1:0"
ws = "127.0.0.1:0"

[web]
enabled = {web}

[[tenant]]
name = "plant"
[[tenant.client]]
name = "viewer"
secret = "viewer-secret"
rights = [{{ regions = "*", access = "read" }}]
[[tenant.region]]
name = "line"
variables = [{{ name = "speed", kind = "u32", writable = true }}]
"#,
        common::toml_path(root)
    )
}

/// An answer: the status line, the headers (names in lower case) and the body.
struct Answer {
    status: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `method path` on `addr`.
async fn request(addr: SocketAddr, method: &str, path: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("{method} {path} HTTP/1.1\r\nHost: hub\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head and a body");
    let head = String::from_utf8(answer[..end].to_vec()).expect("a text head");
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = answer[end + 4..].to_vec();
    let answer = Answer {
        status,
        headers,
        body,
    };
    let length = answer.header("content-length").map(|l| l.parse::<usize>());
    assert_eq!(length, Some(Ok(answer.body.len())), "{path}");
    answer
}

/// A file of the committed bundle the hub embeds.
fn bundled(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("web").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_served_with_its_content_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = common::start(dir.path(), &config_text(&dir.path().join("r"), true)).await;
    let http = hub.http_addr().expect("the HTTP listener");

    let files = [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/index.html", "index.html", "text/html; charset=utf-8"),
        ("/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/app.css", "app.css", "text/css; charset=utf-8"),
    ];
    for (path, file, content_type) in files {
        let answer = request(http, "GET", path).await;
        assert_eq!(answer.status, "HTTP/1.1 200 OK", "{path}");
        assert_eq!(answer.header("content-type"), Some(content_type), "{path}");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert!(answer.body == bundled(file), "{path} is not {file}");
    }
    // The page itself says what it may load: its own files, and the
    // WebSocket listener on another port.
    let page = request(http, "GET", "/?from=bookmark").await;
    let policy = page.header("content-security-policy").expect("a policy");
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(policy.contains("connect-src 'self' ws: wss:"), "{policy}");

    // The port the WebSocket listener was bound to, not the configured 0.
    let ws = hub.ws_addr().expect("the WebSocket listener").port();
    assert_ne!(ws, 0);
    let web = request(http, "GET", "/web.json").await;
    assert_eq!(web.status, "HTTP/1.1 200 OK");
    assert_eq!(web.header("content-type"), Some("application/json"));
    let expected = format!("{{\"ws\":{ws},\"wss\":null}}\n");
    assert_eq!(String::from_utf8_lossy(&web.body), expected);

    for path in ["/nothing", "/app.js/", "/../Cargo.toml", "/web"] {
        let answer = request(http, "GET", path).await;
        assert_eq!(answer.status, "HTTP/1.1 404 Not Found", "{path}");
    }
    let posted = request(http, "POST", "/").await;
    assert_eq!(posted.status, "HTTP/1.1 405 Method Not Allowed");
    let metrics = request(http, "GET", "/metrics").await;
    assert_eq!(metrics.status, "HTTP/1.1 200 OK");
    assert!(String::from_utf8_lossy(&metrics.body).contains("memwire_"));
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_switch_only_the_metrics_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = common::start(dir.path(), &config_text(&dir.path().join("r"), false)).await;
    let http = hub.http_addr().expect("the HTTP listener");
    for path in ["/", "/index.html", "/app.js", "/app.css", "/web.json"] {
        let answer = request(http, "GET", path).await;
        assert_eq!(answer.status, "HTTP/1.1 404 Not Found", "{path}");
        assert_eq!(
            answer.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
    }
    let metrics = request(http, "GET", "/metrics").await;
    assert_eq!(metrics.status, "HTTP/1.1 200 OK");
    hub.shutdown().await;
}
