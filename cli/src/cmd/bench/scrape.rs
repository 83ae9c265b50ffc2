//! A scraper of the hub's metrics while a bench runs, as Prometheus would
//! scrape it: `GET /metrics` every second, the answer read and dropped.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Scrapes `addr` every second until the task is aborted.
pub(super) fn every_second(addr: SocketAddr) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut answer = Vec::new();
        loop {
            tick.tick().await;
            let Ok(mut stream) = TcpStream::connect(addr).await else {
                continue;
            };
            let request = b"GET /metrics HTTP/1.1\r\nHost: hub\r\n\r\n";
            if stream.write_all(request).await.is_ok() {
                answer.clear();
                let _ = stream.read_to_end(&mut answer).await;
            }
        }
    })
}
