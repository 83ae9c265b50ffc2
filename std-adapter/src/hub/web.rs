//! The live web view (`[web] enabled`): the page's files, built from
//! `web/` at the repository's root by esbuild and committed under
//! `std-adapter/web/`, so that building the hub needs no Node; and
//! `/web.json`, which tells the page where the WebSocket listener is.
//!
//! The page is only ever served by the HTTP listener (`http.rs`); it logs
//! in over the WebSocket listener as a client of the configuration, with
//! that client's rights, like any other client.

use std::borrow::Cow;
use std::net::SocketAddr;

/// `/`: the page.
const INDEX_HTML: &[u8] = include_bytes!("../../web/index.html");
/// `/app.js`: the page's script, the TypeScript client and uPlot bundled.
const APP_JS: &[u8] = include_bytes!("../../web/app.js");
/// `/app.css`: the page's style sheet, uPlot's included.
const APP_CSS: &[u8] = include_bytes!("../../web/app.css");

/// What the page may load: its own files, and WebSockets to any port of
/// any host (the listener's port differs from the page's, and `'self'`
/// covers neither).
const POLICY: &str = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// A file the page is made of, as the HTTP listener sends it.
pub(crate) struct Asset {
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The body.
    pub body: Cow<'static, [u8]>,
    /// The `Content-Security-Policy` header, for the page itself.
    pub policy: Option<&'static str>,
}

/// The web view as the hub started it: where the page's client connects.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Page {
    /// The WebSocket listener's bound address (`listen.ws`), if any.
    pub ws: Option<SocketAddr>,
    /// The secure WebSocket listener's bound address (`listen.wss`), if any.
    pub wss: Option<SocketAddr>,
}

impl Page {
    /// The file at `path`, or `None` for a path that is not the page's.
    pub(crate) fn asset(&self, path: &[u8]) -> Option<Asset> {
        let (content_type, body, policy) = match path {
            b"/" | b"/index.html" => (
                "text/html; charset=utf-8",
                Cow::Borrowed(INDEX_HTML),
                Some(POLICY),
            ),
            b"/app.js" => (
                "text/javascript; charset=utf-8",
                Cow::Borrowed(APP_JS),
                None,
            ),
            b"/app.css" => ("text/css; charset=utf-8", Cow::Borrowed(APP_CSS), None),
            b"/web.json" => (
                "application/json",
                Cow::Owned(self.json().into_bytes()),
                None,
            ),
            _ => return None,
        };
        Some(Asset {
            content_type,
            body,
            policy,
        })
    }

    /// `/web.json`: the ports of the WebSocket listeners, `null` for one
    /// the hub does not have (the page takes the host name it was loaded
    /// from, which the hub cannot know behind a proxy or a port forward).
    fn json(&self) -> String {
        let port =
            |addr: Option<SocketAddr>| addr.map_or("null".to_owned(), |a| a.port().to_string());
        format!("{{\"ws\":{},\"wss\":{}}}\n", port(self.ws), port(self.wss))
    }
}
