//! A client that publishes a region (a device's telemetry): the hub
//! subscribes once the client is welcomed and keeps its region file a copy
//! of the client's region, which other clients then mirror; the copy
//! resumes by delta when the client reconnects, and other clients' writes
//! are forwarded to the publishing client.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use common::{eventually, file_snapshot, options};
use memwire::codec::ErrorCode;
use memwire::layout::{init, required_len};
use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire::session::{Client, ClientConfig, Observer, OwnRegion, OwnRegions, Stats};
use memwire::time::Instant;
use memwire::{Region, Schema};
use memwire_std::client::ClientError;
use memwire_std::shm::{Root, ShmRegion};

/// The device's telemetry, as the device declares it.
static TELEMETRY: SchemaBuf<4> = SchemaBuilder::new()
    .var("temp", Kind::F32, 1)
    .var("uptime", Kind::U32, 1)
    .var("led", Kind::Bool, 1)
    .writable()
    .var("samples", Kind::I16, 256)
    .build();

/// The same region, as the hub's config declares it.
const CONFIG: &str = r#"
root = "regions"
[listen]
tcp = "127.0.0.1:0"
[[tenant]]
name = "lab"
[[tenant.client]]
name = "device"
secret = "device-secret"
rights = [{ regions = "*", access = "read-write" }]
[[tenant.client]]
name = "ops"
secret = "ops-secret"
rights = [{ regions = "*", access = "read-write" }]
[[tenant.region]]
name = "telemetry"
publisher = "device"
variables = [
  { name = "temp", kind = "f32" },
  { name = "uptime", kind = "u32" },
  { name = "led", kind = "bool", writable = true },
  { name = "samples", kind = "i16", count = 256 },
]
"#;

/// The device's region and what publishing it needs, in leaked memory
/// (as `static`s would hold them on a device).
fn device_region(instance: u64) -> OwnRegion<'static> {
    region_of("telemetry", TELEMETRY.as_schema(), instance)
}

/// A region `name` of `schema` the device publishes.
fn region_of(name: &'static str, schema: Schema<'static>, instance: u64) -> OwnRegion<'static> {
    let len = required_len(&schema).expect("layout");
    let words: &'static mut [u32] = Box::leak(vec![0u32; len / 4].into_boxed_slice());
    let bytes: &'static mut [u8] = bytemuck::cast_slice_mut(words);
    init(bytes, &schema, instance).expect("init");
    let region = Region::from_bytes(bytes, schema).expect("region");
    let data = region.data_len();
    let leak = |n| -> &'static mut [u8] { Box::leak(vec![0u8; n].into_boxed_slice()) };
    let table = Box::leak(vec![0u64; OwnRegion::table_len(data)].into_boxed_slice());
    OwnRegion::new(name, region, leak(data), leak(data), table).expect("published")
}

struct Device(OwnRegion<'static>);

impl Observer<'static> for Device {
    fn published(&mut self) -> Option<&mut dyn OwnRegions> {
        Some(&mut self.0)
    }
}

/// Runs one connection of the device until `stop` is set or the
/// connection ends: scans its region and drives the session over a
/// blocking socket. Returns the region and the session's counters.
fn run_device(
    addr: SocketAddr,
    mut device: Device,
    stop: Arc<AtomicBool>,
    mut tick: impl FnMut(&Region<'static>) + Send + 'static,
) -> thread::JoinHandle<(Device, Stats)> {
    thread::spawn(move || {
        let epoch = StdInstant::now();
        let now = || Instant::from_micros(u64::try_from(epoch.elapsed().as_micros()).unwrap_or(0));
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let config = ClientConfig::new("device", "lab", b"device-secret");
        let mut client: Client<'static, 2, 4096> = Client::new(now(), config);
        let mut rx = [0u8; 4096];
        let mut tx = vec![0u8; 8192];
        while !stop.load(Ordering::Relaxed) && !client.is_closed() {
            tick(device.0.region());
            device.0.scan();
            while let Some(n) = client.poll_transmit_with(now(), &mut tx, &mut device) {
                stream.write_all(&tx[..n]).expect("send");
            }
            match stream.read(&mut rx) {
                Ok(0) => break,
                Ok(n) => client.handle_input_with(now(), &rx[..n], &mut device),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("device read: {e}"),
            }
            if client.poll_timeout().is_some_and(|t| t <= now()) {
                client.handle_timeout(now());
            }
        }
        (device, client.stats())
    })
}

fn data_of(region: &Region<'_>) -> Vec<u8> {
    let mut out = vec![0u8; region.data_len()];
    region.snapshot(&mut out).expect("snapshot");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_keeps_a_copy_of_a_region_a_client_publishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = common::start(dir.path(), CONFIG).await;
    let addr = hub.tcp_addr().expect("tcp");
    let root = Root::new(dir.path().join("regions"));

    // The hub's schema is the device's: same layout, same fingerprint.
    let device = device_region(0xD1);
    let samples: Vec<u8> = (0..512u32).map(|i| (i * 7) as u8).collect();
    device.region().set_by_name("temp", 21.5f32).expect("temp");
    device
        .region()
        .write_ranges(&[(12, &samples)], None)
        .expect("samples");

    let live = *device.region();
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let ticks = Arc::clone(&counter);
    let running = run_device(addr, Device(device), Arc::clone(&stop), move |region| {
        let n = ticks.fetch_add(1, Ordering::Relaxed) / 50;
        region.set_by_name("uptime", n).expect("uptime");
    });

    // Another client mirrors the copy and sees the device's changes.
    let (ops, mirror) = {
        let client = memwire_std::client::Client::connect(
            &format!("tcp://{addr}"),
            options("ops", "lab", "ops-secret"),
        )
        .await
        .expect("connect");
        let mirror = client.subscribe("telemetry").await.expect("subscribe");
        (client, mirror)
    };
    eventually("the copy holds the device's data", || {
        file_snapshot(&root, "lab/telemetry").1.get(12..524) == Some(&samples[..])
    })
    .await;
    eventually("a remote mirror sees the uptime move", || {
        mirror.get::<u32>("uptime").is_ok_and(|u| u >= 3)
    })
    .await;
    assert_eq!(mirror.get::<f32>("temp").expect("temp"), 21.5);

    // Other clients' writes go to the device, whose region then holds them;
    // the answer comes once the hub's copy does.
    let generation = mirror.set("led", true).await.expect("forwarded write");
    assert!(live.get_by_name::<bool>("led").expect("led"));
    let (copied, data) = file_snapshot(&root, "lab/telemetry");
    assert!(copied >= generation);
    assert_eq!(data.get(8), Some(&1), "the copy holds the write");
    let refused = mirror.set("temp", 1.0f32).await;
    assert!(
        matches!(refused, Err(ClientError::Hub(ErrorCode::ReadOnly))),
        "{refused:?}"
    );

    // The device drops off, changes while away, and comes back: a delta.
    stop.store(true, Ordering::Relaxed);
    let (device, first) = running.join().expect("device");
    // Without its publisher, a write to the copy fails as busy.
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    loop {
        match mirror.set("led", false).await {
            Err(ClientError::Hub(ErrorCode::Busy)) => break,
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "a write with the device gone: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    device
        .0
        .region()
        .set_by_name("temp", -3.0f32)
        .expect("temp");
    let away = data_of(device.0.region());
    let stop = Arc::new(AtomicBool::new(false));
    let running = run_device(addr, device, Arc::clone(&stop), |_| {});
    eventually("the copy catches up after the reconnect", || {
        file_snapshot(&root, "lab/telemetry").1 == away
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let (_, second) = running.join().expect("device");
    assert!(first.updates >= 2);
    assert!(
        second.bytes_out < 200,
        "the resumed copy took {} bytes, not a delta",
        second.bytes_out
    );

    // A reboot: a new instance, so the copy is sent whole.
    let rebooted = device_region(0xD2);
    rebooted.region().set_by_name("temp", 5.0f32).expect("temp");
    let expected = data_of(rebooted.region());
    let stop = Arc::new(AtomicBool::new(false));
    let running = run_device(addr, Device(rebooted), Arc::clone(&stop), |_| {});
    eventually("the copy holds the rebooted device's data", || {
        file_snapshot(&root, "lab/telemetry").1 == expected
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let (_, third) = running.join().expect("device");
    assert!(
        third.bytes_out > 512,
        "a full update: {} bytes",
        third.bytes_out
    );
    ops.close().await;
    hub.shutdown().await;
}

/// A device's array of 1024 elements, all of one value at each tick.
static WIDE: SchemaBuf<1> = SchemaBuilder::new().var("ticks", Kind::U32, 1024).build();

/// The hub's copy of a region a client publishes takes each of the
/// client's updates as one commit, however many frames and ranges it
/// spans: a thread reading the copy's file never sees two values in the
/// array. Each tick changes the low byte of every element only, so an
/// update is many ranges, in frames of at most 256 bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_of_the_hubs_copy_never_sees_a_client_update_half_applied() {
    const TICKS: u32 = 600;
    // Frames of at most 256 bytes, many per tick: past the default
    // inbound rates.
    let config = CONFIG
        .replace(
            "[[tenant]]",
            "[limits]\nmax_frame = 256\nrate_frames = 1000000\nrate_frame_burst = 1000000\n\
             rate_bytes = 100000000\nrate_byte_burst = 100000000\n[[tenant]]",
        )
        .replace(
            "[[tenant.region]]",
            "[[tenant.region]]\nname = \"wide\"\npublisher = \"device\"\n\
         variables = [{ name = \"ticks\", kind = \"u32\", count = 1024 }]\n[[tenant.region]]",
        );
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = common::start(dir.path(), &config).await;
    let addr = hub.tcp_addr().expect("tcp");
    let root = Root::new(dir.path().join("regions"));
    let copy = ShmRegion::open(&root, "lab/wide").expect("the hub's copy");
    let id = copy.schema().find("ticks").expect("ticks");

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let (mut mixed, mut seen) = (0u64, Vec::new());
            let mut bytes = vec![0u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                copy.read(id, &mut bytes).expect("read");
                let mut values: Vec<u32> = bytes
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                values.dedup();
                match values[..] {
                    [one] if seen.last() != Some(&one) => seen.push(one),
                    [_] => {}
                    _ => mixed += 1,
                }
            }
            (mixed, seen)
        })
    };

    let value = |tick: u32| 0x5A5A_5A00 | (tick % 256);
    let ticks = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let device = Device(region_of("wide", WIDE.as_schema(), 0xD3));
    let running = {
        let ticks = Arc::clone(&ticks);
        run_device(addr, device, Arc::clone(&stop), move |region| {
            let tick = ticks.load(Ordering::Relaxed);
            if tick < TICKS {
                let bytes: Vec<u8> = (0..1024)
                    .flat_map(|_| value(tick + 1).to_le_bytes())
                    .collect();
                region.write_ranges(&[(0, &bytes)], None).expect("ticks");
                ticks.store(tick + 1, Ordering::Relaxed);
            }
        })
    };
    let last: Vec<u8> = (0..1024).flat_map(|_| value(TICKS).to_le_bytes()).collect();
    eventually("the copy holds the last tick", || {
        let (_, d) = file_snapshot(&root, "lab/wide");
        d.get(..4096) == Some(&last[..])
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    running.join().expect("device");
    let (mixed, seen) = reader.join().expect("reader");
    assert_eq!(mixed, 0, "mixed arrays read from the hub's copy");
    assert!(seen.len() >= 10, "the reader saw {} ticks", seen.len());
    hub.shutdown().await;
}

#[test]
fn a_publisher_that_is_not_a_client_is_a_config_error() {
    let text = CONFIG.replace("publisher = \"device\"", "publisher = \"nobody\"");
    let dir = tempfile::tempdir().expect("tempdir");
    let err = memwire_std::hub::Config::parse(&text, "test.toml", dir.path())
        .expect_err("unknown publisher");
    let message = err.to_string();
    assert!(message.contains("test.toml:17:"), "{message}");
    assert!(message.contains("\"nobody\""), "{message}");
}
