//! What the end-to-end tests of the embassy client share: the device's
//! regions and the hub's declaration of them, the hub and the remote
//! client that writes the device's configuration, the device's client and
//! tasks on embassy's std executor, and the waits that compare the device's
//! bytes with the hub's.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicU32;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use embassy_executor::Spawner;
use embassy_net::{IpEndpoint, Ipv4Address, Ipv4Cidr, Stack, StaticConfigV4};
use memwire::schema::{Record, Value};
use memwire::session::OwnRegion;
use memwire::{Region, Schema};
use memwire_embassy::{Config, Event, Handle, Mirror, Resources};
use memwire_std::client::{Client, ClientOptions, Mirror as RemoteMirror};
use memwire_std::hub::{Config as HubConfig, Hub};
use memwire_std::shm::{Root, ShmRegion};
use static_cell::StaticCell;
use tokio::runtime::Runtime;

/// How long any awaited condition may take before the test fails: far
/// above what it needs, it only bounds a hang.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);
/// The largest frame body the device takes.
pub(crate) const FRAME: usize = 1024;

/// The device's configuration region, which it mirrors; the hub declares
/// the same variables.
#[derive(Schema, Clone, Copy)]
#[repr(C)]
struct Settings {
    #[memwire(writable)]
    setpoint: f32,
    #[memwire(writable)]
    gain: f32,
    #[memwire(writable)]
    mode: u32,
    #[memwire(writable)]
    table: [u32; 64],
}

/// The device's telemetry, which it publishes.
#[derive(Schema, Clone, Copy)]
#[repr(C)]
struct Telemetry {
    uptime_ms: u32,
    temperature: f32,
    samples: [i16; 128],
}

/// The hub's configuration: tenant `demo` with the clients `device` and
/// `remote`, the region `settings` and the region `telemetry` that
/// `device` publishes, listening on `tcp` only.
fn hub_config(root: &Path, tcp: &str) -> HubConfig {
    let text = format!(
        r#"
root = {root:?}
[listen]
tcp = "{tcp}"
[publish]
chunk = 64
[[tenant]]
name = "demo"
[[tenant.client]]
name = "device"
secret = "device-secret"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.client]]
name = "remote"
secret = "remote-secret"
rights = [{{ regions = "*", access = "read-write" }}]
[[tenant.region]]
name = "settings"
variables = [
  {{ name = "setpoint", kind = "f32", writable = true }},
  {{ name = "gain", kind = "f32", writable = true }},
  {{ name = "mode", kind = "u32", writable = true }},
  {{ name = "table", kind = "u32", count = 64, writable = true }},
]
[[tenant.region]]
name = "telemetry"
publisher = "device"
variables = [
  {{ name = "uptime_ms", kind = "u32" }},
  {{ name = "temperature", kind = "f32" }},
  {{ name = "samples", kind = "i16", count = 128 }},
]
"#,
        root = root.display().to_string()
    );
    HubConfig::parse(&text, "test.toml", root).unwrap_or_else(|e| panic!("config: {e}\n{text}"))
}

/// The tokio runtime the hub and the remote client run on.
pub(crate) fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Starts the hub of [`hub_config`] on `root`, listening on `tcp`.
#[track_caller]
pub(crate) fn start_hub(rt: &Runtime, root: &Path, tcp: &str) -> Hub {
    match rt.block_on(Hub::start(hub_config(root, tcp))) {
        Ok(hub) => hub,
        Err(e) => panic!("hub on {tcp}: {e}"),
    }
}

/// The remote `memwire_std` client of the hub at `hub`, subscribed to
/// `demo/settings`.
#[track_caller]
pub(crate) fn remote_settings(rt: &Runtime, hub: SocketAddr) -> (Client, RemoteMirror) {
    let options = ClientOptions::new("remote", "demo", "remote-secret");
    let remote = match rt.block_on(Client::connect(&format!("tcp://{hub}"), options)) {
        Ok(remote) => remote,
        Err(e) => panic!("remote client of {hub}: {e}"),
    };
    match rt.block_on(remote.subscribe("demo/settings")) {
        Ok(settings) => (remote, settings),
        Err(e) => panic!("subscribe to demo/settings at {hub}: {e}"),
    }
}

/// Writes `value` to the variable `name` through the remote client's
/// `settings`, returning the generation the hub applied it at.
#[track_caller]
pub(crate) fn remote_write<V: Value>(
    rt: &Runtime,
    settings: &RemoteMirror,
    name: &str,
    value: V,
) -> u64 {
    match rt.block_on(settings.set(name, value)) {
        Ok(generation) => generation,
        Err(e) => panic!("remote write of {name}: {e}"),
    }
}

/// The device's regions, leaked for the life of the test process: the
/// settings it mirrors and the telemetry it publishes (at `uptime_ms`
/// 1000 and `samples` all 7), each as memory and as the region over it.
pub(crate) struct DeviceRegions {
    pub(crate) settings_words: &'static [AtomicU32],
    pub(crate) mirror: Region<'static>,
    pub(crate) telemetry_words: &'static [AtomicU32],
    pub(crate) telemetry: Region<'static>,
}

/// [`DeviceRegions`], the telemetry with the instance `telemetry_instance`.
pub(crate) fn device_regions(telemetry_instance: u64) -> DeviceRegions {
    let settings_words = region_memory(&Settings::schema(), 1);
    let mirror = Region::new_checked(settings_words, Settings::schema()).expect("mirror");
    let telemetry_words = region_memory(&Telemetry::schema(), telemetry_instance);
    let telemetry = Region::new_checked(telemetry_words, Telemetry::schema()).expect("telemetry");
    telemetry
        .set_by_name("uptime_ms", 1_000u32)
        .expect("uptime");
    telemetry
        .set_by_name("samples", [7i16; 128])
        .expect("samples");
    DeviceRegions {
        settings_words,
        mirror,
        telemetry_words,
        telemetry,
    }
}

/// Region memory for `schema`, leaked for the life of the test process (a
/// device would hold it in a `static`).
fn region_memory(schema: &Schema<'static>, instance: u64) -> &'static [AtomicU32] {
    let len = memwire::layout::required_len(schema).expect("layout") / 4;
    let words: &'static [AtomicU32] = Box::leak(
        (0..len)
            .map(|_| AtomicU32::new(0))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    Region::init(words, *schema, instance).expect("init");
    words
}

/// The device's telemetry as a published region named `telemetry`, with
/// its shadow, scan buffer and chunk table leaked.
fn published_telemetry(words: &'static [AtomicU32]) -> &'static mut [OwnRegion<'static>] {
    let region = Region::new_checked(words, Telemetry::schema()).expect("telemetry");
    let len = region.data_len();
    let leak = |len: usize| Box::leak(vec![0u8; len].into_boxed_slice());
    let table = Box::leak(vec![0u64; OwnRegion::table_len(len)].into_boxed_slice());
    let published =
        OwnRegion::new("telemetry", region, leak(len), leak(len), table).expect("published");
    Box::leak(vec![published].into_boxed_slice())
}

/// The static configuration of a stack at `ip`/24.
pub(crate) fn static_ipv4(ip: [u8; 4]) -> embassy_net::Config {
    let [a, b, c, d] = ip;
    embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(Ipv4Address::new(a, b, c, d), 24),
        gateway: None,
        dns_servers: Default::default(),
    })
}

/// Starts the device's client on `stack`: it connects to `hub` as
/// `device` of `demo` (backing off 50 to 400 ms between attempts), mirrors
/// `demo/settings` in `settings` and publishes `telemetry`; its events go
/// to `events_out`. Returns its handle.
pub(crate) fn start_client(
    spawner: Spawner,
    stack: Stack<'static>,
    hub: IpEndpoint,
    settings: &'static [AtomicU32],
    telemetry: &'static [AtomicU32],
    events_out: mpsc::Sender<Event>,
) -> Handle<'static> {
    static CLIENT: StaticCell<Resources<4096, 2048, FRAME>> = StaticCell::new();
    let mirror = Region::new_checked(settings, Settings::schema()).expect("mirror");
    let mut config = Config::new(hub, "device", "demo", b"device-secret");
    config.backoff_min = embassy_time::Duration::from_millis(50);
    config.backoff_max = embassy_time::Duration::from_millis(400);
    let (handle, runner) = memwire_embassy::new(
        stack,
        config,
        CLIENT.init(Resources::new()),
        [Mirror::new("demo/settings", mirror)],
        published_telemetry(telemetry),
    );
    spawner.spawn(device(runner).expect("device"));
    spawner.spawn(events(handle, events_out).expect("events"));
    handle
}

#[embassy_executor::task]
async fn device(mut runner: memwire_embassy::Runner<'static, 1, FRAME>) -> ! {
    runner.run().await
}

/// Forwards the device's events to the test thread.
#[embassy_executor::task]
async fn events(handle: Handle<'static>, out: mpsc::Sender<Event>) {
    loop {
        let event = handle.next_event().await;
        if out.send(event).is_err() {
            return;
        }
    }
}

/// Waits for the first event that `want` accepts, failing after
/// [`DEADLINE`] with what came instead.
pub(crate) fn wait_for(
    events: &mpsc::Receiver<Event>,
    what: &str,
    want: impl Fn(&Event) -> bool,
) -> Event {
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) if want(&event) => return event,
            Ok(event) => seen.push(event),
            Err(e) => panic!("{what}: not within {DEADLINE:?} ({e}); events seen: {seen:?}"),
        }
    }
}

/// Waits until the device's mirror is at `generation` or later.
pub(crate) fn wait_for_generation(
    events: &mpsc::Receiver<Event>,
    what: &str,
    generation: u64,
) -> Event {
    wait_for(
        events,
        what,
        |e| matches!(e, Event::Updated { mirror: 0, generation: g, .. } if *g >= generation),
    )
}

/// Waits until the hub's region file `path` holds exactly the data of the
/// device's `region` (its published region or its mirror), failing after
/// [`DEADLINE`] with how far apart they are.
pub(crate) fn hub_equals_device(root: &Root, path: &str, region: &Region<'_>) {
    let deadline = Instant::now() + DEADLINE;
    let mut device = vec![0u8; region.data_len()];
    loop {
        region.snapshot(&mut device).expect("device snapshot");
        let file = ShmRegion::open(root, path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut hub = vec![0u8; file.data_len()];
        file.snapshot(&mut hub)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        if hub == device {
            return;
        }
        if Instant::now() >= deadline {
            let differ: Vec<usize> = hub
                .iter()
                .zip(&device)
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(i, _)| i)
                .collect();
            panic!(
                "{path}: the hub's bytes are not the device's within {DEADLINE:?}: \
                 {} of {} bytes differ (offsets {:?}…); hub {} bytes, device {} bytes",
                differ.len(),
                device.len(),
                &differ[..differ.len().min(16)],
                hub.len(),
                device.len(),
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
