//! The `memwire` binary end to end: `serve` in the background on a free
//! port with a temporary region root, then the client commands against it
//! (over TLS with the files `memwire cert` writes), and `demo` on its own.

#![cfg(not(loom))]
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Instant;

use common::{BIN, DEADLINE, Serve, free_port, memwire, ok, shown, wait_for_log};
use memwire_std::hub::config::DEFAULT_TOML;
use memwire_std::shm::{Root, ShmRegion};

#[track_caller]
fn assert_fails(output: &Output, code: i32) -> String {
    assert_eq!(output.status.code(), Some(code), "{}", shown(output));
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn client_commands_against_a_served_hub() {
    let server = Serve::start("");

    // Every variable of the region, `name = value`.
    let all = ok(&server.run(&["get", "demo/sensors"]));
    for name in [
        "uptime_ms",
        "counter",
        "temperature",
        "samples",
        "setpoint",
        "enabled",
    ] {
        assert!(
            all.lines().any(|l| l.starts_with(&format!("{name} = "))),
            "{name}: {all}"
        );
    }

    // A write, then a read shows it.
    let set = ok(&server.run(&["set", "demo/sensors/setpoint", "21.5"]));
    assert!(
        set.starts_with("demo/sensors/setpoint = 21.5 (generation "),
        "{set}"
    );
    let get = ok(&server.run(&["get", "demo/sensors/setpoint"]));
    assert_eq!(get, "setpoint = 21.5\n");
    ok(&server.run(&["set", "demo/sensors/setpoint", "-3"]));
    let get = ok(&server.run(&["get", "demo/sensors/setpoint"]));
    assert_eq!(get, "setpoint = -3.0\n");

    // Refusals: a read-only variable, a read-only client, a bad value, an
    // unknown variable, a wrong secret.
    let err = assert_fails(&server.run(&["set", "demo/sensors/temperature", "3"]), 1);
    assert!(
        err.starts_with("error: cannot write demo/sensors/temperature"),
        "{err}"
    );
    let viewer = [
        "set",
        "--client",
        "viewer",
        "--secret",
        "memwire-viewer-secret",
        "demo/sensors/enabled",
        "false",
    ];
    let err = assert_fails(&server.run(&viewer), 1);
    assert!(
        err.starts_with("error: cannot write demo/sensors/enabled"),
        "{err}"
    );
    let err = assert_fails(&server.run(&["set", "demo/sensors/setpoint", "warm"]), 1);
    assert!(err.starts_with("error: ") && err.contains("warm"), "{err}");
    let err = assert_fails(&server.run(&["get", "demo/sensors/nope"]), 1);
    assert!(err.contains("no variable `nope`"), "{err}");
    let err = assert_fails(
        &server.run(&["get", "--secret", "wrong", "demo/sensors"]),
        1,
    );
    assert!(
        err.starts_with("error: client `demo` of tenant `demo`") && err.contains("authentication"),
        "{err}"
    );
    assert_eq!(
        server.run(&["get", "demo/sensors/setpoint"]).stdout,
        b"setpoint = -3.0\n"
    );

    // JSON.
    let dump = ok(&server.run(&["dump", "demo/sensors"]));
    let json: serde_json::Value = serde_json::from_str(&dump).unwrap();
    assert_eq!(json["path"], "demo/sensors");
    assert!(
        json["generation"].as_u64().is_some_and(|g| g >= 2),
        "{json}"
    );
    assert_eq!(json["variables"]["setpoint"], -3.0);
    assert_eq!(
        json["variables"]["samples"].as_array().map(Vec::len),
        Some(256)
    );
    // One line per variable, arrays on theirs: the braces, generation,
    // path, and the nine variables.
    assert_eq!(dump.lines().count(), 6 + 9, "{dump}");
    let samples = dump.lines().find(|l| l.starts_with("    \"samples\": ["));
    assert!(
        samples.is_some_and(|l| l.ends_with("],") && l.contains(", ")),
        "{dump}"
    );

    // The listing.
    let ls = ok(&server.run(&["ls"]));
    assert!(ls.starts_with("demo/sensors  generation "), "{ls}");
    let setpoint = ls.lines().find(|l| l.trim_start().starts_with("setpoint "));
    let columns: Vec<&str> = setpoint.unwrap_or_default().split_whitespace().collect();
    assert_eq!(columns.first(), Some(&"setpoint"), "{ls}");
    assert_eq!(columns.get(1..3), Some(&["f32", "1"][..]), "{ls}");
    assert_eq!(columns.last(), Some(&"yes"), "{ls}");

    // Watching through a pipe: one line per change, with the values. Only
    // setpoint is written by the test (the demo's sensor is not running
    // under `serve`), so the line holds exactly it.
    let first = first_watch_line(&server, &["watch", "demo/sensors"]);
    let value = first
        .strip_prefix("generation ")
        .and_then(|rest| rest.split_once(": setpoint = "))
        .map(|(generation, value)| (generation.parse::<u64>(), value));
    assert!(
        matches!(value, Some((Ok(_), v)) if v.strip_suffix(".0").is_some_and(|n| n.parse::<u32>().is_ok())),
        "{first}"
    );

    // --json: one object per update, with the changed variables' values.
    let first = first_watch_line(&server, &["watch", "--json", "demo/sensors"]);
    let json: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert!(json["generation"].as_u64().is_some(), "{first}");
    assert_eq!(json["resynced"], false, "{first}");
    let changed = json["changed"].as_object().unwrap();
    assert_eq!(changed.keys().collect::<Vec<_>>(), ["setpoint"], "{first}");
    assert!(
        changed["setpoint"].as_f64().is_some_and(|v| v >= 1.0),
        "{first}"
    );

    // SIGTERM stops the hub in order.
    let status = server.terminate();
    assert!(status.success(), "{status}");
}

/// The first line `memwire` with `args` (a watch) prints while the test
/// writes setpoint again and again: writes go on until the watcher
/// (subscribed at some point) reports one, so nothing depends on how fast
/// it starts.
fn first_watch_line(server: &Serve, args: &[&str]) -> String {
    let mut watch = server
        .client()
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let watch_out = watch.stdout.take().unwrap();
    let (lines, line) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for text in std::io::BufRead::lines(std::io::BufReader::new(watch_out)) {
            if lines.send(text.unwrap()).is_err() {
                return;
            }
        }
    });
    let start = Instant::now();
    let mut value = 0;
    let first = loop {
        if let Ok(first) = line.try_recv() {
            break first;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "memwire {args:?} printed nothing"
        );
        value += 1;
        ok(&server.run(&["set", "demo/sensors/setpoint", &value.to_string()]));
    };
    let _ = watch.kill();
    let _ = watch.wait();
    drop(line);
    reader.join().unwrap();
    first
}

#[test]
fn errors_say_what_to_do_next() {
    // No hub: how to start one.
    let dir = tempfile::tempdir().unwrap();
    let hub = format!("tcp://127.0.0.1:{}", free_port());
    let output = memwire(dir.path())
        .args(["get", "--hub", &hub, "demo/sensors"])
        .output()
        .unwrap();
    assert_eq!(
        assert_fails(&output, 1),
        format!(
            "error: cannot connect to {hub}: Connection refused (os error 111); \
             is a hub running at {hub}? Start one with `memwire serve`\n"
        )
    );

    let server = Serve::start("");
    // The tenant left out of the path: said before any login.
    let err = assert_fails(&server.run(&["get", "sensors/temperature"]), 1);
    assert_eq!(
        err,
        "error: client `demo` belongs to tenant `demo`, not `sensors`: a path starts with the \
         client's tenant; did you mean `demo/sensors/temperature`?\n"
    );
    let err = assert_fails(&server.run(&["watch", "sensors/temperature"]), 1);
    assert!(err.ends_with("did you mean `demo/sensors`?\n"), "{err}");
    // An unknown region or variable: the nearest name, else the names.
    let err = assert_fails(&server.run(&["get", "demo/sensor"]), 1);
    assert_eq!(
        err,
        "error: cannot subscribe to demo/sensor: unknown region; did you mean `demo/sensors`?\n"
    );
    let err = assert_fails(&server.run(&["dump", "demo/motors"]), 1);
    assert_eq!(
        err,
        "error: cannot subscribe to demo/motors: unknown region; the hub lists: sensors\n"
    );
    let err = assert_fails(&server.run(&["get", "demo/sensors/temprature"]), 1);
    assert_eq!(
        err,
        "error: demo/sensors has no variable `temprature`; did you mean \
         `demo/sensors/temperature`?\n"
    );
    // With a client and secret of its own, the tenant is the path's: the
    // refusal asks whether it is one.
    let viewer = [
        "get",
        "--client",
        "viewer",
        "--secret",
        "memwire-viewer-secret",
        "sensors/temperature",
    ];
    let err = assert_fails(&server.run(&viewer), 1);
    assert_eq!(
        err,
        "error: client `viewer` of tenant `sensors`: the hub refused: authentication failed; \
         is `sensors` a tenant of client `viewer`? A path starts with the tenant, and a wrong \
         secret is refused the same way\n"
    );
}

/// A tool built without the `zenoh` feature cannot run the bridge a config
/// asks for: it refuses to serve rather than serve without it.
#[cfg(not(feature = "zenoh"))]
#[test]
fn serve_without_the_zenoh_feature_refuses_a_zenoh_section() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hub.toml");
    let text = "[listen]\ntcp = \"127.0.0.1:0\"\n\n[zenoh]\nstate = \"state\"\n";
    std::fs::write(&file, text).unwrap();
    let output = memwire(dir.path())
        .arg("serve")
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = assert_fails(&output, 1);
    assert!(err.contains("hub.toml:4"), "{err}");
    assert!(err.contains("the cargo feature `zenoh`"), "{err}");
}

#[test]
fn usage_errors_exit_with_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["get", "demo"][..],
        &["set", "demo/sensors", "1"],
        &["watch", "demo/sensors/setpoint"],
        &["frobnicate"],
        &[],
    ] {
        let output = memwire(dir.path()).args(args).output().unwrap();
        assert_fails(&output, 2);
    }
}

#[test]
fn help_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let top = ok(&memwire(dir.path()).arg("--help").output().unwrap());
    assert!(top.contains("Examples:"), "{top}");
    for command in [
        "serve", "cert", "ls", "get", "set", "watch", "dump", "stats", "demo", "bench",
    ] {
        assert!(
            top.contains(&format!("  {command} ")),
            "{command} missing: {top}"
        );
        let help = ok(&memwire(dir.path())
            .args([command, "--help"])
            .output()
            .unwrap());
        assert!(help.contains("Examples:"), "{command}: {help}");
    }
}

#[test]
fn serve_prints_the_web_views_url() {
    let config = format!("{DEFAULT_TOML}\n[web]\nenabled = true\n");
    let listen = "http = \"127.0.0.1:0\"\nws = \"127.0.0.1:0\"";
    let server = Serve::start_with(&["serve", "--config"], &config, listen);
    wait_for_log(&server.dir.path().join("serve.log"), "web view: ");
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.starts_with("web view: http://127.0.0.1:") && l.ends_with('/')),
        "{log}"
    );
}

#[test]
fn demo_runs_for_a_duration_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let output = memwire(&root)
        .args(["demo", "--duration", "2", "--listen", "127.0.0.1:0"])
        .args(["--web", "127.0.0.1:0", "--ws", "127.0.0.1:0"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let out = ok(&output);
    assert!(
        out.starts_with("memwire demo: hub tcp://127.0.0.1:"),
        "{out}"
    );
    // The web view's URL carries the read-only client's login in its
    // fragment.
    assert!(
        out.lines()
            .any(|l| l.starts_with("Web view: http://127.0.0.1:")
                && l.ends_with("/#tenant=demo&client=viewer&secret=memwire-viewer-secret")),
        "{out}"
    );
    // No `memwire` on PATH: the hint names this executable, so that it
    // runs as printed.
    assert!(
        out.contains(&format!("{BIN} watch --hub tcp://127.0.0.1:")),
        "{out}"
    );
    // The simulated sensor wrote the region: its first write comes before
    // it first sleeps.
    let region = ShmRegion::open(&Root::new(&root), "demo/sensors").unwrap();
    assert!(region.get_by_name::<u64>("counter").unwrap() >= 1);
    assert!(region.get_by_name::<bool>("enabled").unwrap());
}

#[test]
fn bench_reports_latency_and_fan_out() {
    let dir = tempfile::tempdir().unwrap();
    let output = memwire(dir.path())
        .args([
            "bench",
            "--subscribers",
            "3",
            "--seconds",
            "1",
            "--samples",
            "50",
        ])
        .output()
        .unwrap();
    let out = ok(&output);
    for expected in [
        "update: local commit -> remote mirror",
        "baseline: TCP ping-pong",
        "update: hub write -> remote mirror",
        "local commit / std::net ping-pong p50",
        "local commit / tokio ping-pong    p50",
        "hub write / std::net ping-pong    p50",
        "hub write / tokio ping-pong       p50",
        "rounds: p50",
        "in 10 rounds taking each in turn",
        "fan-out: 3 subscribers",
        "updates delivered",
        "all mirrors at the final generation",
    ] {
        assert!(out.contains(expected), "{expected} missing: {out}");
    }
    assert!(!out.contains(": NO"), "mirrors did not catch up: {out}");
}

/// `memwire cert` into `dir`, with `args` after it.
fn cert(dir: &Path, args: &[&str]) -> Output {
    memwire(&dir.join("root"))
        .args(["cert", "--dir"])
        .arg(dir.join("tls"))
        .args(args)
        .output()
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Whether the PEM certificate in `file` has the basic constraints
/// extension, and if so whether it says `cA` TRUE.
fn says_it_is_a_ca(file: &Path) -> Option<bool> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_file(file).unwrap();
    // The extension's OID (2.5.29.19), then `critical` TRUE if present,
    // then the OCTET STRING around its SEQUENCE, which starts with the
    // BOOLEAN `cA` when that is TRUE.
    const OID: [u8; 5] = [0x06, 0x03, 0x55, 0x1d, 0x13];
    let at = der.windows(OID.len()).position(|w| w == OID)? + OID.len();
    let mut rest = &der[at..];
    if rest.starts_with(&[0x01, 0x01, 0xff]) {
        rest = &rest[3..];
    }
    assert_eq!((rest[0], rest[2]), (0x04, 0x30), "{}", file.display());
    Some(rest[4..].starts_with(&[0x01, 0x01, 0xff]))
}

/// The `[listen.tls]` lines `memwire cert` printed, listening on `port`.
fn printed_listen_tls(out: &str, port: u16) -> String {
    let start = out.find("[listen.tls]\n").expect(out);
    let lines: Vec<&str> = out[start..].lines().take(4).collect();
    assert!(lines[3].starts_with("key = "), "{out}");
    lines
        .join("\n")
        .replace("0.0.0.0:7879", &format!("127.0.0.1:{port}"))
}

#[test]
fn cert_makes_a_hub_that_clients_reach_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    let out = ok(&cert(dir.path(), &["localhost", "127.0.0.1"]));
    for (file, text) in [
        ("ca.pem", "the CA certificate"),
        ("cert.pem", "the hub's certificate for localhost, 127.0.0.1"),
        ("key.pem", "the hub's private key (mode 0600)"),
    ] {
        let line = format!("wrote {}  {text}", tls.join(file).display());
        assert!(out.contains(&line), "{line} missing: {out}");
    }
    assert_eq!(mode(&tls.join("key.pem")), 0o600);
    assert_eq!(mode(&tls.join("ca.pem")) & 0o600, 0o600);
    // rustls trusts an anchor whatever it says of itself; other TLS
    // libraries want the CA to say it is one.
    assert_eq!(says_it_is_a_ca(&tls.join("ca.pem")), Some(true));
    assert_eq!(says_it_is_a_ca(&tls.join("cert.pem")), Some(false));
    let client_command = format!(
        "memwire get --hub tls://localhost:7879 --ca {} demo/sensors",
        tls.join("ca.pem").display()
    );
    assert!(out.contains(&client_command), "{out}");

    // The hub runs on the lines printed; a client trusting the CA reaches
    // it by either name, reads and writes.
    let port = free_port();
    let server = Serve::start(&printed_listen_tls(&out, port));
    let ca = tls.join("ca.pem");
    let ca = ca.to_str().unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let hub = format!("tls://{host}:{port}");
        let set = [
            "set",
            "--hub",
            &hub,
            "--ca",
            ca,
            "demo/sensors/setpoint",
            "4.5",
        ];
        ok(&server.run(&set));
        let get = ["get", "--hub", &hub, "--ca", ca, "demo/sensors/setpoint"];
        assert_eq!(ok(&server.run(&get)), "setpoint = 4.5\n");
    }

    // Without the CA, the error says to pass it; with the hub's own
    // certificate instead, that --ca takes the CA's.
    let hub = format!("tls://localhost:{port}");
    let err = assert_fails(&server.run(&["get", "--hub", &hub, "demo/sensors"]), 1);
    assert!(err.contains("pass the CA certificate with --ca"), "{err}");
    let hub_cert = tls.join("cert.pem");
    let get = [
        "get",
        "--hub",
        &hub,
        "--ca",
        hub_cert.to_str().unwrap(),
        "demo/sensors",
    ];
    let err = assert_fails(&server.run(&get), 1);
    assert!(err.contains("not the hub's cert.pem"), "{err}");
}

#[test]
fn cert_keeps_existing_files_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    ok(&cert(dir.path(), &[]));
    let read = |file: &str| std::fs::read(tls.join(file)).unwrap();
    let before = [read("ca.pem"), read("cert.pem"), read("key.pem")];

    let err = assert_fails(&cert(dir.path(), &[]), 1);
    assert!(
        err.contains("already exist") && err.contains("--force"),
        "{err}"
    );
    assert_eq!([read("ca.pem"), read("cert.pem"), read("key.pem")], before);

    // One file in the way is enough to write none.
    std::fs::remove_file(tls.join("ca.pem")).unwrap();
    std::fs::remove_file(tls.join("cert.pem")).unwrap();
    let err = assert_fails(&cert(dir.path(), &[]), 1);
    assert!(err.contains("key.pem already exists"), "{err}");
    assert!(!tls.join("ca.pem").exists());

    // --force replaces them all; a key made readable by others comes back
    // private.
    std::fs::set_permissions(tls.join("key.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
    ok(&cert(dir.path(), &["--force"]));
    assert_ne!(read("key.pem"), before[2]);
    assert_eq!(mode(&tls.join("key.pem")), 0o600);
    assert!(tls.join("ca.pem").exists() && tls.join("cert.pem").exists());
}

/// A certificate that is its own CA, as a plain `openssl req -x509` makes.
#[test]
fn a_ca_certificate_as_the_hubs_own_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let cert_file = dir.path().join("self-signed.pem");
    let key_file = dir.path().join("self-signed-key.pem");
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();

    let port = free_port();
    let server = Serve::start(&format!(
        "[listen.tls]\naddr = \"127.0.0.1:{port}\"\ncert = {:?}\nkey = {:?}",
        cert_file.to_str().unwrap(),
        key_file.to_str().unwrap(),
    ));
    let hub = format!("tls://localhost:{port}");
    let get = [
        "get",
        "--hub",
        &hub,
        "--ca",
        cert_file.to_str().unwrap(),
        "demo/sensors",
    ];
    let err = assert_fails(&server.run(&get), 1);
    assert!(err.contains("CaUsedAsEndEntity"), "{err}");
    assert!(err.contains("with `memwire cert`"), "{err}");
}
