//! A device firmware: the memwire embassy-net client on an embassy
//! executor, publishing a 1 KiB telemetry region and mirroring a
//! configuration region from the hub, with no heap.
//!
//! Built for the QEMU `mps2-an386` board (Cortex-M4F). Its parts are the
//! ones a real device has: embassy-executor's thread-mode executor,
//! embassy-time on a SysTick driver ([`systick`]), an embassy-net stack
//! with a static IPv4 address, the memwire runner, and an application
//! task that writes telemetry and reacts to configuration changes. The
//! network device is an `embassy-net-driver-channel` device whose other
//! end ([`link`]) stands in for the board's LAN9220 driver, which embassy
//! does not have.
//!
//! Under QEMU it runs until the memwire runner has sent its TCP SYN to the
//! hub, then exits through semihosting with status 0; it exits with 1 if
//! that has not happened within [`DEADLINE_S`] seconds, or on a panic.
//! Its purpose beyond that run is the footprint of a device build:
//! `.ci/firmware.sh` prints its section sizes and checks them.
#![no_std]
#![no_main]

mod link;
mod systick;

use core::panic::PanicInfo;
use core::sync::atomic::AtomicU32;

use cortex_m_semihosting::debug;
use embassy_executor::{SpawnError, SpawnToken, Spawner};
use embassy_net::driver::{HardwareAddress, LinkState};
use embassy_net::{EthernetAddress, IpEndpoint, Ipv4Address, Ipv4Cidr, StackResources};
use embassy_net_driver_channel as channel;
use embassy_time::{Duration, Instant, Ticker, Timer};
use memwire::session::OwnRegion;
use memwire::{Record, Region, Schema};
use memwire_embassy::{Config, Event, Handle, Mirror, Resources};
use static_cell::StaticCell;

#[cfg(feature = "defmt")]
use defmt_semihosting as _;

/// Prints a line made of `parts`: through defmt with the `defmt` feature,
/// as text through semihosting otherwise. Only string literals, so no
/// `core::fmt` is linked in for it.
fn say(parts: &[&str]) {
    // One frame per line: defmt-print ends every frame with a newline.
    #[cfg(feature = "defmt")]
    match parts {
        [line] => defmt::println!("{=str}", line),
        [head, tail] => defmt::println!("{=str}{=str}", head, tail),
        _ => {
            for part in parts {
                defmt::println!("{=str}", part);
            }
        }
    }
    #[cfg(not(feature = "defmt"))]
    if let Ok(mut out) = cortex_m_semihosting::hio::hstdout() {
        for part in parts {
            let _ = out.write_all(part.as_bytes());
        }
        let _ = out.write_all(b"\n");
    }
}

/// The largest Ethernet frame the device sends or takes.
pub(crate) const MTU: usize = 1514;
/// The largest memwire frame body: the hub splits the 1 KiB region's
/// updates into frames of this size.
const FRAME: usize = 1024;
/// The TCP receive window: two whole frames.
const SOCKET_RX: usize = 2 * (FRAME + 5);
/// The TCP send buffer: one whole frame.
const SOCKET_TX: usize = FRAME + 5;
/// How long the QEMU run may take to reach the hub.
const DEADLINE_S: u64 = 20;

const DEVICE_MAC: EthernetAddress = EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
const DEVICE_IP: Ipv4Address = Ipv4Address::new(192, 168, 7, 2);
pub(crate) const HUB_MAC: EthernetAddress = EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x0a]);
pub(crate) const HUB_IP: Ipv4Address = Ipv4Address::new(192, 168, 7, 1);
pub(crate) const HUB_PORT: u16 = 7878;

/// Published to the hub: what the device measures. 1 024 bytes of data.
#[derive(Schema, Clone, Copy)]
#[repr(C)]
struct Telemetry {
    uptime_ms: u32,
    temperature: f32,
    samples: [i16; 508],
}

/// Mirrored from the hub: what the operators set.
#[derive(Schema, Clone, Copy)]
#[repr(C)]
struct Settings {
    #[memwire(writable)]
    setpoint: f32,
    #[memwire(writable)]
    gain: f32,
    #[memwire(writable)]
    sample_interval_ms: u32,
}

// Frames carry a write to any writable variable of either region.
const _: () = assert!(FRAME >= Settings::FRAME_LEN && FRAME >= Telemetry::FRAME_LEN);

// The regions and the published one's shadow, scan buffer and chunk
// table, sized by the derive's constants; `Region::init` checks the size
// again at boot.
static TELEMETRY: [AtomicU32; Telemetry::REGION_WORDS] =
    [const { AtomicU32::new(0) }; Telemetry::REGION_WORDS];
static SETTINGS: [AtomicU32; Settings::REGION_WORDS] =
    [const { AtomicU32::new(0) }; Settings::REGION_WORDS];
static SHADOW: StaticCell<[u8; Telemetry::DATA_LEN]> = StaticCell::new();
static SCRATCH: StaticCell<[u8; Telemetry::DATA_LEN]> = StaticCell::new();
static TABLE: StaticCell<[u64; Telemetry::TABLE_LEN]> = StaticCell::new();
static PUBLISHED: StaticCell<[OwnRegion<'static>; 1]> = StaticCell::new();
static RESOURCES: StaticCell<Resources<SOCKET_RX, SOCKET_TX, FRAME>> = StaticCell::new();
static STACK: StaticCell<StackResources<1>> = StaticCell::new();
static NET: StaticCell<channel::State<MTU, 1, 1>> = StaticCell::new();

type Device = channel::Device<'static, MTU>;

/// Ends the run with success.
pub(crate) fn pass(what: &str) -> ! {
    say(&["client: ", what]);
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

/// Ends the run with failure.
fn fail(what: &str) -> ! {
    say(&["client: FAIL ", what]);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

/// Spawns a task, or fails the run if its pool is exhausted.
fn spawn<S>(spawner: Spawner, token: Result<SpawnToken<S>, SpawnError>) {
    match token {
        Ok(token) => spawner.spawn(token),
        Err(_) => fail("task pool exhausted"),
    }
}

/// Ends the run with failure, without formatting the panic's message (a
/// device build carries no `core::fmt`; the defmt build could use
/// `panic-probe` instead).
#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    fail("panic")
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, Device>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn memwire_task(mut runner: memwire_embassy::Runner<'static, 1, FRAME>) -> ! {
    runner.run().await
}

/// The application: samples into the telemetry region at the configured
/// interval and follows the hub's settings.
#[embassy_executor::task]
async fn application(
    handle: Handle<'static>,
    telemetry: Region<'static>,
    settings: Region<'static>,
) {
    let mut interval = Duration::from_millis(100);
    let mut ticker = Ticker::every(interval);
    let mut samples = [0i16; 508];
    let mut next = 0usize;
    loop {
        while let Some(event) = handle.try_next_event() {
            if let Event::Updated { mirror: 0, .. } = event {
                let ms: u32 = settings.get_by_name("sample_interval_ms").unwrap_or(100);
                let ms = ms.clamp(10, 10_000);
                if Duration::from_millis(ms.into()) != interval {
                    interval = Duration::from_millis(ms.into());
                    ticker = Ticker::every(interval);
                }
            }
        }
        let uptime = Instant::now().as_millis();
        let sample = (uptime % 4096) as i16;
        if let Some(slot) = samples.get_mut(next) {
            *slot = sample;
        }
        next = (next + 1) % samples.len();
        // The whole telemetry is written at once: uptime, a temperature
        // and the ring of samples. The runner picks the changed chunks up
        // at its next scan.
        let _ = telemetry.set_by_name("uptime_ms", uptime as u32);
        let _ = telemetry.set_by_name("temperature", 20.0f32 + f32::from(sample) / 1024.0);
        let _ = telemetry.set_by_name("samples", samples);
        ticker.next().await;
    }
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        fail("core peripherals taken twice");
    };
    systick::start(peripherals.SYST);
    say(&["client: memwire device on thumbv7em-none-eabihf (mps2-an386)"]);

    // The network: a channel device, its far end drained by the stand-in
    // for the board's Ethernet driver.
    let (net, device) = channel::new(
        NET.init(channel::State::new()),
        HardwareAddress::Ethernet(DEVICE_MAC.0),
    );
    let (state, rx, tx) = net.split();
    state.set_link_state(LinkState::Up);
    spawn(spawner, link::run(rx, tx));

    let config = embassy_net::Config::ipv4_static(embassy_net::StaticConfigV4 {
        address: Ipv4Cidr::new(DEVICE_IP, 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    // A real device seeds the stack (TCP initial sequence numbers) from
    // its RNG; the board has none.
    let (stack, net_runner) = embassy_net::new(
        device,
        config,
        STACK.init(StackResources::new()),
        0x6d65_6d77_6972_6521,
    );
    spawn(spawner, net_task(net_runner));

    // The regions. A published region's instance must differ on every
    // boot (a boot counter or an RNG); a mirror's does not matter.
    let Ok(settings) = Region::init(&SETTINGS, Settings::schema(), 1) else {
        fail("settings region does not fit");
    };
    let Ok(telemetry) = Region::init(&TELEMETRY, Telemetry::schema(), 0x0b00_7001) else {
        fail("telemetry region does not fit");
    };
    let Ok(published) = OwnRegion::new(
        "telemetry",
        telemetry,
        SHADOW.init([0; Telemetry::DATA_LEN]),
        SCRATCH.init([0; Telemetry::DATA_LEN]),
        TABLE.init([0; Telemetry::TABLE_LEN]),
    ) else {
        fail("telemetry cannot be published");
    };

    let hub = IpEndpoint::new(HUB_IP.into(), HUB_PORT);
    let (handle, runner) = memwire_embassy::new(
        stack,
        Config::new(hub, "device", "demo", b"device-secret"),
        RESOURCES.init(Resources::new()),
        [Mirror::new("demo/settings", settings)],
        PUBLISHED.init([published]),
    );
    spawn(spawner, memwire_task(runner));
    spawn(spawner, application(handle, telemetry, settings));

    Timer::after_secs(DEADLINE_S).await;
    fail("the memwire runner did not try the hub in time");
}
