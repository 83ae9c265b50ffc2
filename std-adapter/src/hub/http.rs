//! The hub's HTTP listener (`listen.http`): `GET /metrics` answers the
//! hub's metrics in the Prometheus text format (`metrics.rs`); with the
//! web view on, `/`, `/app.js`, `/app.css` and `/web.json` answer the
//! page's files (`web.rs`); anything else is a 404. One request per
//! connection, read within a deadline and a size bound, so a client that
//! stalls holds nothing for long.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::error::HubError;
use super::shared::Shared;
use super::web::{Asset, Page};

/// How long a request may take to arrive and its answer to leave.
const DEADLINE: Duration = Duration::from_secs(5);
/// The most of a request read; a GET's line and headers fit.
const REQUEST_MAX: usize = 8 * 1024;
/// The content type of the OpenMetrics text the scrape writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds the listener; [`serve`] answers on it.
pub(crate) async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), HubError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| HubError::Listen {
            addr: format!("HTTP {addr}"),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| HubError::Listen {
        addr: format!("HTTP {addr}"),
        source,
    })?;
    Ok((listener, local))
}

/// Answers requests until shutdown; the page's files too when `page` is
/// set (`[web] enabled`).
pub(crate) async fn serve(
    listener: TcpListener,
    current: watch::Receiver<Arc<Shared>>,
    page: Option<Page>,
    mut stop: watch::Receiver<bool>,
) {
    let mut requests = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = requests.join_next(), if !requests.is_empty() => continue,
            _ = stop.changed() => break,
        };
        match accepted {
            Ok((stream, _)) => {
                let shared = Arc::clone(&current.borrow());
                requests.spawn(async move {
                    let answered = answer(stream, &shared, page.as_ref());
                    let _ = tokio::time::timeout(DEADLINE, answered).await;
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    requests.abort_all();
}

/// Reads one request and answers it.
async fn answer(
    mut stream: TcpStream,
    shared: &Shared,
    page: Option<&Page>,
) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || request.len() + n > REQUEST_MAX {
            return Ok(());
        }
        request.extend_from_slice(buf.get(..n).unwrap_or(&[]));
    }
    let line = request.split(|&b| b == b'\r').next().unwrap_or(&[]);
    let mut words = line.split(|&b| b == b' ');
    let (method, target) = (words.next(), words.next());
    let path = target.map(|t| t.split(|&b| b == b'?').next().unwrap_or(t));
    let reply = match (method, path) {
        (Some(b"GET"), Some(b"/metrics")) => {
            let figures: Vec<_> = shared
                .regions
                .iter()
                .filter(|r| !r.retired())
                .map(|r| r.figures())
                .collect();
            let body = shared.metrics.scrape(&figures);
            Asset {
                content_type: CONTENT_TYPE,
                body: Cow::Owned(body.into_bytes()),
                policy: None,
            }
            .response("200 OK")
        }
        (Some(b"GET"), Some(path)) => match page.and_then(|p| p.asset(path)) {
            Some(asset) => asset.response("200 OK"),
            None => plain("not found\n").response("404 Not Found"),
        },
        _ => plain("GET only\n").response("405 Method Not Allowed"),
    };
    stream.write_all(&reply).await?;
    stream.shutdown().await
}

fn plain(text: &'static str) -> Asset {
    Asset {
        content_type: "text/plain; charset=utf-8",
        body: Cow::Borrowed(text.as_bytes()),
        policy: None,
    }
}

impl Asset {
    /// The whole answer: the head, then the body.
    fn response(&self, status: &str) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n",
            self.content_type,
            self.body.len()
        );
        if let Some(policy) = self.policy {
            head.push_str("Content-Security-Policy: ");
            head.push_str(policy);
            head.push_str("\r\n");
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut reply = head.into_bytes();
        reply.extend_from_slice(&self.body);
        reply
    }
}
