//! What an unauthenticated connection costs the hub: the heap bytes it
//! holds while its peer sits at the challenge, and what is left once it
//! closed, counted by a global allocator of this test binary
//! (deterministic, unlike the process's resident size; `BENCHMARKS.md` has
//! the resident figures).

// The counting allocator is the one unsafe item here.
#![allow(unsafe_code)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use common::{body, framed};
use memwire::codec::{Frame, Hello, PROTOCOL_VERSION};
use memwire::session::{Handshake, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

fn signed(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// counter only adds and subtracts the sizes asked for.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(signed(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(signed(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(signed(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(signed(new_size) - signed(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// The count is the whole process's: this binary holds one test only.

/// Connections held open at the challenge.
const PEERS: usize = 100;

/// The hub's session once the client authenticated: 32 subscriptions,
/// frames of up to 64 KiB (`SUBS` and `RX` of the hub's `connection.rs`).
type Session = Server<32, { 64 * 1024 }>;

/// What a connection may hold beyond its handshake before the proof
/// checked: its task, its view of the hub, the stream's registration and
/// the small handshake buffers (about 5 KiB). Neither the full session nor
/// the frame buffers of an authenticated connection (a 16 KiB read buffer
/// and a transmit buffer of a whole frame) fit.
const BESIDES_HANDSHAKE: usize = 6 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthenticated_connection_holds_no_session_and_no_frame_buffers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
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
[[tenant.region]]
name = "small"
variables = [{{ name = "tick", kind = "u64" }}]
"#,
        root = common::toml_path(dir.path()),
    );
    let hub = common::start(dir.path(), &text).await;
    let addr = hub.tcp_addr().expect("tcp");
    let hello = framed(&body(&Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        max_frame: 65_536,
        client: "ops",
        tenant: "t",
    })));
    // One connection first, so that what the hub allocates once (the
    // runtime's worker state, the listener's slabs) is not counted.
    let mut warm = TcpStream::connect(addr).await.expect("connect");
    at_challenge(&mut warm, &hello).await;

    let mut peers = Vec::with_capacity(PEERS);
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..PEERS {
        let mut peer = TcpStream::connect(addr).await.expect("connect");
        at_challenge(&mut peer, &hello).await;
        peers.push(peer);
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    // The peers' own streams are in the count too: a few hundred bytes.
    let each = usize::try_from(held).unwrap_or(0) / PEERS;
    let bound = core::mem::size_of::<Handshake>() + BESIDES_HANDSHAKE;
    assert!(bound < core::mem::size_of::<Session>());
    println!("an unauthenticated connection holds {each} bytes (bound {bound})");
    assert!(
        each <= bound,
        "an unauthenticated connection holds {each} bytes, more than {bound}"
    );
    // Once the hub has seen them close, their memory is freed: at most a
    // few bytes a connection stay (the runtime's slabs grow, never shrink).
    drop(peers);
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    let left = loop {
        let left = LIVE.load(Ordering::Relaxed) - before;
        if left <= signed(PEERS * 256) || tokio::time::Instant::now() > deadline {
            break left;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    println!("after they closed: {left} bytes");
    assert!(
        left <= signed(PEERS * 256),
        "{left} bytes kept after closing"
    );
    drop(warm);
    hub.shutdown().await;
}

/// Sends the hello and reads the challenge whole, without allocating.
async fn at_challenge(peer: &mut TcpStream, hello: &[u8]) {
    peer.write_all(hello).await.expect("send hello");
    let mut prefix = [0u8; 1];
    let read = tokio::time::timeout(common::DEADLINE, peer.read_exact(&mut prefix)).await;
    read.expect("challenge in time").expect("challenge");
    // A challenge is far shorter than 128 bytes: a one-byte prefix.
    let mut challenge = [0u8; 128];
    let len = usize::from(prefix[0]);
    peer.read_exact(challenge.get_mut(..len).expect("short"))
        .await
        .expect("challenge body");
}
