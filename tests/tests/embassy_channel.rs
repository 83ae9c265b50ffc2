//! The embassy client end to end, root-free: two embassy-net stacks in one
//! process joined by `embassy-net-driver-channel`, run by embassy's std
//! executor. Stack A runs the device (`memwire_embassy::Runner`); stack B
//! accepts its TCP connection and bridges the byte stream to the real tokio
//! hub on loopback. The device publishes its telemetry, whose copy at the
//! hub must equal it byte for byte, and mirrors a settings region that a
//! remote `memwire_std` client writes; the device must see the write, lose
//! its connection when the bridge cuts it, reconnect, and catch up by a
//! delta rather than a full resync, both ways.

mod embassy;

use std::sync::atomic::AtomicU32;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use embassy::DEADLINE;
use embassy_executor::{Executor, Spawner};
use embassy_futures::select::{Either3, select3};
use embassy_net::tcp::TcpSocket;
use embassy_net::{IpEndpoint, Ipv4Address, Stack, StackResources};
use embassy_net_driver_channel as ch;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_sync::signal::Signal;
use memwire_embassy::{Event, Handle, WriteError};
use memwire_std::shm::Root;
use static_cell::StaticCell;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MTU: usize = 1514;
/// The port stack B listens on for the device.
const BRIDGE_PORT: u16 = 7878;

/// What crosses between the embassy side of the bridge and the tokio side,
/// tagged with the connection it belongs to so a closed connection's
/// leftovers are never delivered to the next one.
#[derive(Debug)]
enum Pipe {
    Open(u32),
    Data(u32, Vec<u8>),
    Close(u32),
}

static TO_HUB: Channel<CriticalSectionRawMutex, Pipe, 64> = Channel::new();
static FROM_HUB: Channel<CriticalSectionRawMutex, Pipe, 64> = Channel::new();
/// Cuts the device's current connection.
static CUT: Signal<CriticalSectionRawMutex, ()> = Signal::new();
/// Lets the bridge accept a connection again after a cut.
static REOPEN: Signal<CriticalSectionRawMutex, ()> = Signal::new();
/// A value for the device to write to its mirror's `mode` through its
/// handle.
static WRITE_MODE: Signal<CriticalSectionRawMutex, u32> = Signal::new();

type Device = ch::Device<'static, MTU>;

#[embassy_executor::task(pool_size = 2)]
async fn net_task(mut runner: embassy_net::Runner<'static, Device>) -> ! {
    runner.run().await
}

/// Moves frames one way between the two channel devices.
#[embassy_executor::task(pool_size = 2)]
async fn wire(mut tx: ch::TxRunner<'static, MTU>, mut rx: ch::RxRunner<'static, MTU>) -> ! {
    loop {
        let frame = tx.tx_buf().await;
        let len = frame.len();
        let out = rx.rx_buf().await;
        out[..len].copy_from_slice(frame);
        rx.rx_done(len);
        tx.tx_done();
    }
}

/// Writes `mode` through the device's handle when the test asks, and
/// reports the answer.
#[embassy_executor::task]
async fn writer(handle: Handle<'static>, out: mpsc::Sender<Result<u64, WriteError>>) {
    loop {
        let mode = WRITE_MODE.wait().await;
        let result = handle.write(0, "mode", &mode.to_le_bytes()).await;
        if out.send(result).is_err() {
            return;
        }
    }
}

/// Stack B: accepts the device's connection and pipes its bytes to the
/// tokio side until the test cuts it.
#[embassy_executor::task]
async fn bridge(stack: Stack<'static>) -> ! {
    let mut rx = [0u8; 4096];
    let mut tx = [0u8; 4096];
    let mut conn = 0u32;
    loop {
        let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
        if socket.accept(BRIDGE_PORT).await.is_err() {
            continue;
        }
        conn += 1;
        TO_HUB.send(Pipe::Open(conn)).await;
        let mut buf = [0u8; 1024];
        let cut = loop {
            match select3(socket.read(&mut buf), FROM_HUB.receive(), CUT.wait()).await {
                Either3::First(Ok(0) | Err(_)) => break false,
                Either3::First(Ok(n)) => TO_HUB.send(Pipe::Data(conn, buf[..n].to_vec())).await,
                Either3::Second(Pipe::Data(c, bytes)) if c == conn => {
                    let mut rest = &bytes[..];
                    while !rest.is_empty() {
                        match socket.write(rest).await {
                            Ok(n) if n > 0 => rest = &rest[n..],
                            _ => break,
                        }
                    }
                }
                Either3::Second(Pipe::Close(c)) if c == conn => break false,
                Either3::Second(_) => {}
                Either3::Third(()) => break true,
            }
        };
        // A reset, as a broken link or a restarted hub looks to the device.
        socket.abort();
        let _ = socket.flush().await;
        TO_HUB.send(Pipe::Close(conn)).await;
        drop(socket);
        if cut {
            REOPEN.wait().await;
        }
    }
}

/// The tokio side of the bridge: one hub connection per device connection.
async fn hub_side(hub: std::net::SocketAddr) {
    let mut current: Option<(u32, tokio::net::tcp::OwnedWriteHalf)> = None;
    loop {
        match TO_HUB.receive().await {
            Pipe::Open(conn) => {
                let stream = tokio::net::TcpStream::connect(hub)
                    .await
                    .unwrap_or_else(|e| panic!("bridge: connect to the hub: {e}"));
                let (mut read, write) = stream.into_split();
                current = Some((conn, write));
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        match read.read(&mut buf).await {
                            Ok(0) | Err(_) => {
                                FROM_HUB.send(Pipe::Close(conn)).await;
                                return;
                            }
                            Ok(n) => FROM_HUB.send(Pipe::Data(conn, buf[..n].to_vec())).await,
                        }
                    }
                });
            }
            Pipe::Data(conn, bytes) => {
                if let Some((c, write)) = current.as_mut().filter(|(c, _)| *c == conn) {
                    if write.write_all(&bytes).await.is_err() {
                        let _ = c;
                        current = None;
                    }
                }
            }
            Pipe::Close(conn) => {
                if current.as_ref().is_some_and(|(c, _)| *c == conn) {
                    // Dropping the write half closes the hub's connection.
                    current = None;
                }
            }
        }
    }
}

/// A channel device and its stack, statically allocated.
fn stack(
    spawner: Spawner,
    state: &'static mut ch::State<MTU, 4, 4>,
    resources: &'static mut StackResources<4>,
    mac: [u8; 6],
    ip: [u8; 4],
    seed: u64,
) -> (
    Stack<'static>,
    ch::RxRunner<'static, MTU>,
    ch::TxRunner<'static, MTU>,
) {
    let (runner, device) = ch::new(state, ch::driver::HardwareAddress::Ethernet(mac));
    let (state_runner, rx, tx) = runner.split();
    state_runner.set_link_state(ch::driver::LinkState::Up);
    let (stack, net) = embassy_net::new(device, embassy::static_ipv4(ip), resources, seed);
    spawner.spawn(net_task(net).expect("net task"));
    (stack, rx, tx)
}

/// Runs the embassy side in its own thread: both stacks, the wires, the
/// bridge and the device client mirroring `settings` and publishing
/// `telemetry`.
fn start_embassy(
    settings: &'static [AtomicU32],
    telemetry: &'static [AtomicU32],
    events_out: mpsc::Sender<Event>,
    writes_out: mpsc::Sender<Result<u64, WriteError>>,
) {
    std::thread::spawn(move || {
        static EXECUTOR: StaticCell<Executor> = StaticCell::new();
        static STATE_A: StaticCell<ch::State<MTU, 4, 4>> = StaticCell::new();
        static STATE_B: StaticCell<ch::State<MTU, 4, 4>> = StaticCell::new();
        static NET_A: StaticCell<StackResources<4>> = StaticCell::new();
        static NET_B: StaticCell<StackResources<4>> = StaticCell::new();
        let executor = EXECUTOR.init(Executor::new());
        executor.run(move |spawner| {
            let (stack_a, rx_a, tx_a) = stack(
                spawner,
                STATE_A.init(ch::State::new()),
                NET_A.init(StackResources::new()),
                [2, 0, 0, 0, 0, 0xa],
                [10, 0, 0, 2],
                1,
            );
            let (stack_b, rx_b, tx_b) = stack(
                spawner,
                STATE_B.init(ch::State::new()),
                NET_B.init(StackResources::new()),
                [2, 0, 0, 0, 0, 0xb],
                [10, 0, 0, 1],
                2,
            );
            spawner.spawn(wire(tx_a, rx_b).expect("wire"));
            spawner.spawn(wire(tx_b, rx_a).expect("wire"));
            spawner.spawn(bridge(stack_b).expect("bridge"));

            let hub = IpEndpoint::new(Ipv4Address::new(10, 0, 0, 1).into(), BRIDGE_PORT);
            let handle =
                embassy::start_client(spawner, stack_a, hub, settings, telemetry, events_out);
            spawner.spawn(writer(handle, writes_out).expect("writer"));
        })
    });
}

#[test]
fn device_mirrors_sees_writes_and_resyncs_by_delta_after_a_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = embassy::runtime();
    let hub = embassy::start_hub(&rt, dir.path(), "127.0.0.1:0");
    let hub_addr = hub.tcp_addr().expect("hub address");
    rt.spawn(hub_side(hub_addr));

    let root = Root::new(dir.path());
    let embassy::DeviceRegions {
        settings_words,
        mirror,
        telemetry_words,
        telemetry,
    } = embassy::device_regions(0x7e1e_0001);
    let (events_in, events) = mpsc::channel();
    let (writes_in, writes) = mpsc::channel();
    start_embassy(settings_words, telemetry_words, events_in, writes_in);
    let write_mode = |mode: u32| {
        WRITE_MODE.signal(mode);
        writes
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|e| panic!("the device's write of mode {mode}: no answer ({e})"))
    };

    embassy::wait_for(&events, "device welcomed", |e| *e == Event::Connected);
    let first = embassy::wait_for(&events, "first full update", |e| {
        matches!(e, Event::Updated { mirror: 0, .. })
    });
    assert!(
        matches!(first, Event::Updated { resynced: true, .. }),
        "{first:?}"
    );

    // A remote client writes; the device's mirror follows.
    let (remote, settings) = embassy::remote_settings(&rt, hub_addr);
    let written = embassy::remote_write(&rt, &settings, "setpoint", 21.5f32);
    embassy::wait_for_generation(&events, "the remote write", written);
    assert_eq!(mirror.get_by_name::<f32>("setpoint"), Ok(21.5));

    // The device writes through its handle; the remote client sees it.
    let applied = write_mode(7).unwrap_or_else(|e| panic!("device write: {e}"));
    embassy::wait_for_generation(&events, "the device's own write", applied);
    assert_eq!(mirror.get_by_name::<u32>("mode"), Ok(7));
    let deadline = Instant::now() + DEADLINE;
    while settings.get::<u32>("mode").ok() != Some(7) {
        assert!(
            Instant::now() < deadline,
            "the remote client did not see the device's write within {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    // The hub keeps a copy of the device's telemetry, and follows local
    // writes the runner's scans pick up.
    embassy::hub_equals_device(&root, "demo/telemetry", &telemetry);
    telemetry
        .set_by_name("temperature", 36.6f32)
        .expect("temperature");
    embassy::hub_equals_device(&root, "demo/telemetry", &telemetry);

    // Cut the device's connection; write while it is away.
    CUT.signal(());
    embassy::wait_for(&events, "the cut noticed", |e| {
        matches!(e, Event::Disconnected { .. })
    });
    let away = embassy::remote_write(&rt, &settings, "gain", 3.0f32);
    assert_eq!(mirror.get_by_name::<f32>("gain"), Ok(0.0));
    assert_eq!(write_mode(8), Err(WriteError::NotConnected));
    telemetry
        .set_by_name("uptime_ms", 2_000u32)
        .expect("uptime");

    // Back again: the device resumes and gets only what changed.
    REOPEN.signal(());
    embassy::wait_for(&events, "device welcomed again", |e| *e == Event::Connected);
    let update = embassy::wait_for_generation(&events, "the write made while away", away);
    assert!(
        matches!(
            update,
            Event::Updated {
                resynced: false,
                ..
            }
        ),
        "expected a delta after the reconnect, got {update:?}"
    );
    assert_eq!(mirror.get_by_name::<f32>("gain"), Ok(3.0));
    assert_eq!(mirror.get_by_name::<f32>("setpoint"), Ok(21.5));
    embassy::hub_equals_device(&root, "demo/telemetry", &telemetry);

    rt.block_on(remote.close());
    rt.block_on(hub.shutdown());
}
