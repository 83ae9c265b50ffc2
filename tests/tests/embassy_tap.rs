//! The embassy client end to end over a real link: the device's
//! embassy-net stack runs on a TAP device (`embassy-net-tuntap`) inside a
//! network namespace the test creates, and talks to the real tokio hub
//! listening on the TAP link's address, the way a board on an Ethernet
//! segment would.
//!
//! The test creates the namespace `memwire-<pid>` with `ip netns add` and
//! runs itself again inside it (`ip netns exec`, marked by the
//! `MEMWIRE_TAP_CHILD` variable); the parent waits for that run and
//! deletes the namespace whatever its outcome. Inside, the run creates the
//! TAP device `mwtap0` with the address 10.77.0.1/24 (the hub's side,
//! owned by the kernel) and brings it and `lo` up; the hub listens on
//! 10.77.0.1 only, and the device's stack uses the TAP with the static
//! address 10.77.0.2/24. It checks that
//!
//! 1. the hub's copy of the device's published telemetry equals the
//!    device's region byte for byte, also after a local change;
//! 2. the device's mirror of the configuration region sees a remote
//!    `memwire_std` client's write;
//! 3. after the hub is shut down and started again on the same root and
//!    port, the device reconnects and resyncs both ways, including changes
//!    made on either side while the hub was down.
//!
//! It needs root (`CAP_NET_ADMIN` and `CAP_SYS_ADMIN` for the namespace),
//! iproute2's `ip` and `/dev/net/tun`. Without them it says so loudly and
//! FAILS, unless `MEMWIRE_SKIP_TAP=1` is set, in which case it says it was
//! skipped and passes:
//!
//! ```sh
//! sudo -E cargo test -p memwire-tests --test embassy_tap
//! MEMWIRE_SKIP_TAP=1 cargo test -p memwire-tests --test embassy_tap   # skip it
//! ```
//!
//! The run inside the namespace writes its output to a log that the
//! parent prints (pass `--nocapture` to see it when the test passes).

mod embassy;

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicU32;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use embassy_executor::Executor;
use embassy_net::{IpEndpoint, Ipv4Address, StackResources};
use embassy_net_tuntap::TunTapDevice;
use memwire_embassy::Event;
use memwire_std::shm::{Root, ShmWriter};
use static_cell::StaticCell;

/// This test's name, as the harness's `--exact` filter wants it.
const TEST: &str = "device_over_a_tap_device_against_the_hub";
/// Set to `1` to skip the test where it cannot create its namespace.
const SKIP: &str = "MEMWIRE_SKIP_TAP";
/// Marks the run inside the namespace; its value is the namespace.
const CHILD: &str = "MEMWIRE_TAP_CHILD";
/// Where the run inside the namespace writes `passed` or `skipped` once
/// done, so the parent knows it ran the test rather than none.
const OUTCOME: &str = "MEMWIRE_TAP_OUTCOME";
/// How long the run inside the namespace may take in all.
const CHILD_DEADLINE: Duration = Duration::from_secs(300);
const TAP: &str = "mwtap0";
const HUB_IP: [u8; 4] = [10, 77, 0, 1];
const DEVICE_IP: [u8; 4] = [10, 77, 0, 2];

#[test]
fn device_over_a_tap_device_against_the_hub() {
    match std::env::var(CHILD) {
        Ok(namespace) => in_namespace(&namespace),
        Err(_) => run_in_a_namespace(),
    }
}

/// Says loudly why the test cannot run, and fails unless [`SKIP`] is set.
///
/// The message goes to the process's stderr directly, past the harness's
/// capture, so a skip shows in a plain `cargo test` too.
fn unavailable(why: &str) {
    let skip = std::env::var(SKIP).is_ok_and(|v| v == "1");
    let banner = "!".repeat(72);
    let message = if skip {
        format!("\n{banner}\n{TEST}: SKIPPED ({SKIP}=1): {why}\n{banner}\n")
    } else {
        format!(
            "\n{banner}\n{TEST} CANNOT RUN: {why}\n\
             It needs root (to create a network namespace and a TAP device), \
             iproute2's `ip` and /dev/net/tun.\n\
             Set {SKIP}=1 to skip it where that is not possible.\n{banner}\n"
        )
    };
    let _ = std::io::stderr().write_all(message.as_bytes());
    assert!(skip, "{TEST} cannot run: {why} (set {SKIP}=1 to skip it)");
}

/// Runs `ip` with `args`, returning why it failed.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip {}`: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Deletes the namespace when dropped, also when the test fails.
struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.0]) {
            eprintln!("{TEST}: could not delete the namespace {}: {e}", self.0);
        }
    }
}

/// The parent: creates the namespace, runs this test inside it, and
/// fails if that run failed.
fn run_in_a_namespace() {
    let name = format!("memwire-{}", std::process::id());
    if let Err(why) = ip(&["netns", "add", &name]) {
        return unavailable(&why);
    }
    let namespace = Namespace(name);
    let dir = tempfile::tempdir().expect("tempdir");
    let outcome = dir.path().join("outcome");
    let log_path = dir.path().join("log");
    let log = File::create(&log_path).expect("log");
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new("ip")
        .args(["netns", "exec", &namespace.0])
        .arg(&exe)
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, &namespace.0)
        .env(OUTCOME, &outcome)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `ip netns exec`: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the run in the namespace") {
            break Some(status);
        }
        if started.elapsed() > CHILD_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let outcome = std::fs::read_to_string(&outcome).unwrap_or_default();
    match (status, outcome.as_str()) {
        (Some(status), "passed") if status.success() => print!("{output}"),
        (Some(status), "skipped") if status.success() => {
            // Past the harness's capture, like the parent's own skip.
            let _ = std::io::stderr().write_all(output.as_bytes());
        }
        (Some(status), _) => panic!(
            "the run inside the namespace {} failed ({status}, outcome {outcome:?}); \
             its output:\n{output}",
            namespace.0
        ),
        (None, _) => panic!(
            "the run inside the namespace {} did not end within {CHILD_DEADLINE:?}; \
             its output:\n{output}",
            namespace.0
        ),
    }
}

/// Records how the run inside the namespace ended, for the parent.
fn report(outcome: &str) {
    let path = std::env::var_os(OUTCOME).expect("the parent names the outcome file");
    std::fs::write(path, outcome).expect("write the outcome");
}

/// Creates the TAP link inside the namespace and opens the device's side.
fn tap_link() -> Result<TunTapDevice, String> {
    if !Path::new("/dev/net/tun").exists() {
        return Err("/dev/net/tun does not exist".into());
    }
    let hub = format!("{}/24", Ipv4Address::from(HUB_IP));
    ip(&["tuntap", "add", "dev", TAP, "mode", "tap"])?;
    ip(&["addr", "add", &hub, "dev", TAP])?;
    ip(&["link", "set", TAP, "up"])?;
    ip(&["link", "set", "lo", "up"])?;
    let mut device =
        TunTapDevice::new(TAP).map_err(|e| format!("cannot open the TAP device {TAP}: {e}"))?;
    device.set_hardware_address([0x02, 0, 0x4d, 0x57, 0, 2]);
    Ok(device)
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

/// Runs the device in its own thread on embassy's std executor: an
/// embassy-net stack on the TAP device and the client, mirroring
/// `demo/settings` and publishing `telemetry`.
fn start_device(
    tap: TunTapDevice,
    hub: SocketAddr,
    settings: &'static [AtomicU32],
    telemetry: &'static [AtomicU32],
    events_out: mpsc::Sender<Event>,
) {
    let SocketAddr::V4(hub) = hub else {
        panic!("the hub listens on IPv4: {hub}")
    };
    let hub = IpEndpoint::new((*hub.ip()).into(), hub.port());
    std::thread::spawn(move || {
        static EXECUTOR: StaticCell<Executor> = StaticCell::new();
        static NET: StaticCell<StackResources<4>> = StaticCell::new();
        let executor = EXECUTOR.init(Executor::new());
        executor.run(move |spawner| {
            let net = embassy::static_ipv4(DEVICE_IP);
            let (stack, runner) =
                embassy_net::new(tap, net, NET.init(StackResources::new()), 0x6d77);
            spawner.spawn(net_task(runner).expect("net task"));
            embassy::start_client(spawner, stack, hub, settings, telemetry, events_out);
        })
    });
}

/// The run inside the namespace: the link, the hub, the device and the
/// three checks.
fn in_namespace(namespace: &str) {
    let tap = match tap_link() {
        Ok(tap) => tap,
        Err(why) => {
            unavailable(&format!("in the namespace {namespace}: {why}"));
            return report("skipped");
        }
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let root = Root::new(dir.path());
    let rt = embassy::runtime();
    let listen = SocketAddr::from((HUB_IP, 0)).to_string();
    let hub = embassy::start_hub(&rt, dir.path(), &listen);
    let addr = hub.tcp_addr().expect("hub address");
    println!("hub on {addr}, device at {}", Ipv4Address::from(DEVICE_IP));

    let embassy::DeviceRegions {
        settings_words,
        mirror,
        telemetry_words,
        telemetry,
    } = embassy::device_regions(0x7a9_0001);
    let (events_in, events) = mpsc::channel();
    start_device(tap, addr, settings_words, telemetry_words, events_in);

    embassy::wait_for(&events, "the device welcomed", |e| *e == Event::Connected);
    embassy::wait_for(&events, "the device's first mirror update", |e| {
        matches!(e, Event::Updated { mirror: 0, .. })
    });

    // (1) The hub's copy of the telemetry is the device's, and follows a
    // local write the runner's scans pick up.
    embassy::hub_equals_device(&root, "demo/telemetry", &telemetry);
    telemetry
        .set_by_name("temperature", 36.6f32)
        .expect("temperature");
    embassy::hub_equals_device(&root, "demo/telemetry", &telemetry);
    println!("(1) the hub's telemetry is the device's");

    // (2) A remote client writes the configuration; the device's mirror
    // follows.
    let (remote, settings) = embassy::remote_settings(&rt, addr);
    let written = embassy::remote_write(&rt, &settings, "setpoint", 21.5f32);
    embassy::wait_for_generation(&events, "the remote write at the device", written);
    assert_eq!(mirror.get_by_name::<f32>("setpoint"), Ok(21.5));
    embassy::hub_equals_device(&root, "demo/settings", &mirror);
    rt.block_on(remote.close());
    println!("(2) the device's mirror has the remote write");

    // (3) The hub goes away; both sides change while it is down.
    rt.block_on(hub.shutdown());
    embassy::wait_for(&events, "the device noticing the hub gone", |e| {
        matches!(e, Event::Disconnected { .. })
    });
    telemetry
        .set_by_name("uptime_ms", 2_000u32)
        .expect("uptime");
    telemetry
        .set_by_name("samples", [-3i16; 128])
        .expect("samples");
    {
        // Released at once: the hub writes the region too.
        let writer = ShmWriter::open(&root, "demo/settings").expect("local writer");
        writer.set_by_name("gain", 3.0f32).expect("gain");
        writer.set_by_name("table", [9u32; 64]).expect("table");
    }

    // The same root and port.
    let hub = embassy::start_hub(&rt, dir.path(), &addr.to_string());
    assert_eq!(hub.tcp_addr(), Some(addr));
    embassy::wait_for(&events, "the device welcomed again", |e| {
        *e == Event::Connected
    });
    embassy::hub_equals_device(&root, "demo/settings", &mirror);
    assert_eq!(mirror.get_by_name::<f32>("gain"), Ok(3.0));
    assert_eq!(mirror.get_by_name::<[u32; 64]>("table"), Ok([9; 64]));
    assert_eq!(mirror.get_by_name::<f32>("setpoint"), Ok(21.5));
    embassy::hub_equals_device(&root, "demo/telemetry", &telemetry);

    // The restarted hub serves live changes too.
    let (remote, settings) = embassy::remote_settings(&rt, addr);
    let written = embassy::remote_write(&rt, &settings, "mode", 9u32);
    embassy::wait_for_generation(
        &events,
        "the write after the restart at the device",
        written,
    );
    assert_eq!(mirror.get_by_name::<u32>("mode"), Ok(9));
    telemetry
        .set_by_name("temperature", 37.2f32)
        .expect("temperature");
    embassy::hub_equals_device(&root, "demo/telemetry", &telemetry);
    println!("(3) the device resynced with the restarted hub");

    rt.block_on(remote.close());
    rt.block_on(hub.shutdown());
    report("passed");
}
