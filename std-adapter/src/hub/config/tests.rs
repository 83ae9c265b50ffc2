use super::*;
use memwire::schema::Kind;

/// A config that sets every key, as in `docs/hub-config.md`.
const FULL: &str = r#"
root = "/var/run/memwire"

[listen]
tcp = "0.0.0.0:9000"
unix = "hub.sock"
http = "127.0.0.1:9464"
ws = "127.0.0.1:7412"

[listen.tls]
addr = "[::1]:9001"
cert = "tls/cert.pem"
key = "/etc/memwire/key.pem"

[limits]
max_connections = 10
handshake_ms = 2500
max_frame = 4096
outbound_cap = 65536
rate_frames = 50
rate_frame_burst = 20
rate_bytes = 100000
rate_byte_burst = 8192
max_write = 100000
keepalive_ms = 1000
timeout_ms = 3000
auth_delay_ms = 50
auth_delay_max_ms = 2000
auth_sources = 16

[publish]
max_rate_hz = 0
chunk = 128

[web]
enabled = true

[[tenant]]
name = "plant-1"

[[tenant.client]]
name = "operator"
secret = "s3cret"
rights = [
  { regions = "line.*", access = "read" },
  { regions = "line.a", access = "read-write" },
]

[[tenant.client]]
name = "robot arm #2"
secret_hex = "00FFa0"
rights = [{ regions = "*", access = "read" }, { regions = "*", access = "read-write" }]

[[tenant.region]]
name = "line.a"
variables = [
  { name = "speed", kind = "f64" },
  { name = "flags", kind = "u8", count = 3, writable = true },
  { name = "count", kind = "u32" },
]

[[tenant]]
name = "plant-2"
"#;

fn full() -> Config {
    Config::parse(FULL, "full.toml", Path::new("/etc/memwire")).unwrap()
}

/// The line and the rendered message of the error `text` gives.
fn error(text: &str) -> (usize, String) {
    match Config::parse(text, "bad.toml", Path::new("")) {
        Ok(config) => panic!("accepted:\n{text}\n{config:?}"),
        Err(e) => (e.line().unwrap(), e.to_string()),
    }
}

#[track_caller]
fn assert_error(text: &str, line: usize, fragment: &str) {
    let (at, message) = error(text);
    assert!(
        message.contains(fragment),
        "{message:?} does not say {fragment:?}"
    );
    assert!(
        message.starts_with(&format!("bad.toml:{line}:")),
        "{message}"
    );
    assert_eq!(at, line, "{message}");
}

/// A valid tenant to append errors to: it ends on line 6.
const TENANT: &str = "[[tenant]]
name = \"t\"
[[tenant.client]]
name = \"c\"
secret = \"k\"
rights = [{ regions = \"r\", access = \"read\" }]
";

#[test]
fn the_default_config_parses() {
    let config = Config::default_config();
    assert_eq!(config.listen, Listen::default());
    assert_eq!(config.listen.tcp, Some("127.0.0.1:7878".parse().unwrap()));
    assert_eq!(config.limits, Limits::default());
    assert_eq!(config.publish, Publish::default());
    assert_eq!(config.root, None);
    assert_eq!(config.tenants.len(), 1);
    let demo = config.tenant("demo").unwrap();
    assert_eq!(config.secret("demo", "demo"), Some(DEMO_SECRET.as_bytes()));
    assert_eq!(
        config.secret("demo", "viewer"),
        Some(VIEWER_SECRET.as_bytes())
    );
    assert!(!config.web.enabled);
    assert_eq!(config.access("demo", "demo", "sensors"), Access::ReadWrite);
    assert_eq!(config.access("demo", "viewer", "sensors"), Access::Read);
    let sensors = demo
        .region("sensors")
        .unwrap()
        .schema
        .as_ref()
        .unwrap()
        .as_schema();
    assert_eq!(sensors.data_len(), 1025);
    let (_, samples) = sensors.lookup("samples").unwrap();
    assert_eq!((samples.kind, samples.count), (Kind::I16, 256));
    let writable: Vec<&str> = sensors
        .variables()
        .iter()
        .filter(|v| v.writable)
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(writable, ["setpoint", "enabled"]);
}

#[test]
fn absent_keys_take_their_defaults() {
    let empty = Config::parse("", "empty.toml", Path::new("")).unwrap();
    assert_eq!(empty.listen, Listen::default());
    assert_eq!(empty.limits, Limits::default());
    assert_eq!(empty.publish, Publish::default());
    assert_eq!(empty.web, Web { enabled: false });
    assert!(empty.tenants.is_empty() && empty.root.is_none());
    let partial = Config::parse("[listen]\n[limits]\nmax_frame = 1024\n", "p", Path::new(""));
    let partial = partial.unwrap();
    assert_eq!(partial.listen.tcp, Some(DEFAULT_TCP));
    assert_eq!(partial.limits.max_frame, 1024);
    assert_eq!(partial.limits.timeout, Limits::default().timeout);
}

#[test]
fn a_full_config_parses_to_its_values() {
    let config = full();
    assert_eq!(config.root, Some(PathBuf::from("/var/run/memwire")));
    assert_eq!(
        config.listen,
        Listen {
            tcp: Some("0.0.0.0:9000".parse().unwrap()),
            unix: Some(PathBuf::from("/etc/memwire/hub.sock")),
            tls: Some(TlsListen {
                addr: "[::1]:9001".parse().unwrap(),
                cert: PathBuf::from("/etc/memwire/tls/cert.pem"),
                key: PathBuf::from("/etc/memwire/key.pem"),
            }),
            http: Some("127.0.0.1:9464".parse().unwrap()),
            ws: Some("127.0.0.1:7412".parse().unwrap()),
            wss: None,
        }
    );
    assert_eq!(
        config.limits,
        Limits {
            max_connections: 10,
            handshake: Duration::from_millis(2500),
            max_frame: 4096,
            outbound_cap: 65536,
            rate_frames: 50,
            rate_frame_burst: 20,
            rate_bytes: 100_000,
            rate_byte_burst: 8192,
            max_write: 100_000,
            keepalive: Duration::from_secs(1),
            timeout: Duration::from_secs(3),
            auth_delay: Duration::from_millis(50),
            auth_delay_max: Duration::from_secs(2),
            auth_sources: 16,
        }
    );
    assert_eq!(config.limits.rate().byte_burst, 8192);
    assert_eq!(
        config.publish,
        Publish {
            max_rate_hz: 0,
            chunk: 128,
            encode_once: true,
        }
    );
    assert_eq!(config.web, Web { enabled: true });
    let names: Vec<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["plant-1", "plant-2"]);
    let plant = config.tenant("plant-1").unwrap();
    assert_eq!(config.secret("plant-1", "operator"), Some(&b"s3cret"[..]));
    assert_eq!(
        config.secret("plant-1", "robot arm #2"),
        Some(&[0x00, 0xff, 0xa0][..])
    );
    assert_eq!(
        plant.client("operator").unwrap().rights,
        [
            Right {
                pattern: "line.*".into(),
                access: Access::Read
            },
            Right {
                pattern: "line.a".into(),
                access: Access::ReadWrite
            },
        ]
    );
    let schema = plant
        .region("line.a")
        .unwrap()
        .schema
        .as_ref()
        .unwrap()
        .as_schema();
    let vars: Vec<(&str, Kind, u32, u32, bool)> = schema
        .variables()
        .iter()
        .map(|v| (v.name.as_str(), v.kind, v.count, v.offset, v.writable))
        .collect();
    assert_eq!(
        vars,
        [
            ("speed", Kind::F64, 1, 0, false),
            ("flags", Kind::U8, 3, 8, true),
            ("count", Kind::U32, 1, 12, false),
        ]
    );
    assert!(config.tenant("plant-2").unwrap().clients.is_empty());
    assert!(config.tenant("plant-3").is_none());
}

#[test]
fn rights_resolve_to_the_most_permissive_match() {
    let config = full();
    let access = |client: &str, region: &str| config.access("plant-1", client, region);
    // Exact beats nothing; the prefix gives read; exact read-write wins.
    assert_eq!(access("operator", "line.a"), Access::ReadWrite);
    assert_eq!(access("operator", "line.b"), Access::Read);
    assert_eq!(access("operator", "line."), Access::Read);
    assert_eq!(access("operator", "line"), Access::None);
    assert_eq!(access("operator", "other"), Access::None);
    // "*" matches everything; of read and read-write, read-write wins.
    assert_eq!(access("robot arm #2", "anything"), Access::ReadWrite);
    // Unknown client or tenant: nothing.
    assert_eq!(access("nobody", "line.a"), Access::None);
    assert_eq!(config.access("plant-2", "operator", "line.a"), Access::None);
    assert_eq!(config.access("nope", "operator", "line.a"), Access::None);
    assert_eq!(config.secret("plant-2", "operator"), None);
    let exact = Right {
        pattern: "a".into(),
        access: Access::Read,
    };
    assert!(exact.matches("a") && !exact.matches("ab") && !exact.matches(""));
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let text = "root = \"shm\"\n[listen]\nunix = \"/run/m.sock\"\n[listen.tls]\naddr = \"127.0.0.1:1\"\ncert = \"c.pem\"\nkey = \"../k.pem\"\n";
    let config = Config::parse(text, "x", Path::new("/srv/hub")).unwrap();
    assert_eq!(config.root, Some(PathBuf::from("/srv/hub/shm")));
    assert_eq!(config.listen.unix, Some(PathBuf::from("/run/m.sock")));
    let tls = config.listen.tls.unwrap();
    assert_eq!(tls.cert, PathBuf::from("/srv/hub/c.pem"));
    assert_eq!(tls.key, PathBuf::from("/srv/hub/../k.pem"));
    // With no directory (the built-in config), relative paths stay relative.
    let config = Config::parse(text, "x", Path::new("")).unwrap();
    assert_eq!(config.listen.tls.unwrap().cert, PathBuf::from("c.pem"));
}

#[test]
fn load_names_the_file_and_uses_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.toml");
    std::fs::write(
        &path,
        "[listen.tls]\naddr = \"127.0.0.1:1\"\ncert = \"c.pem\"\nkey = \"k.pem\"\n",
    )
    .unwrap();
    let config = Config::load(&path).unwrap();
    assert_eq!(config.listen.tls.unwrap().cert, dir.path().join("c.pem"));

    std::fs::write(&path, "\n[limits]\nmax_frame = 5\n").unwrap();
    let e = Config::load(&path).unwrap_err();
    assert_eq!(e.line(), Some(3));
    assert!(
        e.to_string()
            .starts_with(&format!("{}:3:13: ", path.display())),
        "{e}"
    );

    let missing = dir.path().join("missing.toml");
    let e = Config::load(&missing).unwrap_err();
    assert_eq!(e.line(), None);
    assert!(
        e.to_string()
            .starts_with(&format!("cannot read {}: ", missing.display())),
        "{e}"
    );
}

#[test]
fn tcp_can_be_turned_off_but_something_must_listen() {
    let config = Config::parse("[listen]\ntcp = \"\"\nunix = \"s\"\n", "x", Path::new("")).unwrap();
    assert_eq!(config.listen.tcp, None);
    assert_eq!(config.listen.unix, Some(PathBuf::from("s")));
    assert_error("\n[listen]\ntcp = \"\"\n", 2, "nothing to listen on");
}

#[test]
fn websocket_listeners() {
    let text = "[listen]\ntcp = \"\"\nws = \"127.0.0.1:7412\"\nwss = \"127.0.0.1:7413\"\n[listen.tls]\naddr = \"127.0.0.1:7879\"\ncert = \"c\"\nkey = \"k\"\n";
    let config = Config::parse(text, "x", Path::new("")).unwrap();
    assert_eq!(config.listen.ws, Some("127.0.0.1:7412".parse().unwrap()));
    assert_eq!(config.listen.wss, Some("127.0.0.1:7413".parse().unwrap()));
    let ws_only = Config::parse(
        "[listen]\ntcp = \"\"\nws = \"127.0.0.1:7412\"\n",
        "x",
        Path::new(""),
    );
    assert_eq!(
        ws_only.unwrap().listen.wss,
        None,
        "WebSocket alone is enough to listen on"
    );
    assert_error(
        "[listen]\nwss = \"127.0.0.1:7413\"\n",
        2,
        "`listen.wss` needs `[listen.tls]`",
    );
    assert_error(
        "[listen]\nws = \"localhost\"\n",
        2,
        "`listen.ws` = \"localhost\" is not an address",
    );
}

#[test]
fn the_web_view_needs_the_http_listener() {
    let off = Config::parse("[web]\nenabled = false\n", "x", Path::new("")).unwrap();
    assert!(!off.web.enabled);
    assert_error(
        "\n[web]\nenabled = true\n",
        2,
        "`web.enabled` needs `listen.http`",
    );
    assert_error(
        "[listen]\nhttp = \"127.0.0.1:0\"\n[web]\nenabled = true\n",
        3,
        "`web.enabled` needs `listen.ws` or `listen.wss`",
    );
    assert_error("[web]\nport = 1\n", 2, "unknown field `port`");
}

#[test]
fn each_semantic_error_points_at_its_line() {
    let cases: &[(&str, usize, &str)] = &[
        // Names.
        (
            "[[tenant]]\nname = \"a/b\"\n",
            2,
            "tenant name \"a/b\" holds a character",
        ),
        ("[[tenant]]\nname = \".hidden\"\n", 2, "starts with a dot"),
        ("[[tenant]]\nname = \"\"\n", 2, "tenant name \"\" is empty"),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.region]]\nname = \"x\"\nvariables = []\n",
            5,
            "at least one variable",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.region]]\nname = \"r r\"\nvariables = []\n",
            4,
            "region name \"r r\"",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.region]]\nname = \"r\"\nvariables = [\n{ name = \"ok\", kind = \"u8\" },\n{ name = \"x\", kind = \"u8\" },\n{ name = \"a b\", kind = \"u8\" },\n]\n",
            8,
            "variable name \"a b\"",
        ),
        (
            &format!("[[tenant]]\nname = \"{}\"\n", "x".repeat(41)),
            2,
            "longer than 40 bytes",
        ),
        // Kinds and counts.
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.region]]\nname = \"r\"\nvariables = [\n{ name = \"v\", kind = \"float\" },\n]\n",
            6,
            "unknown kind \"float\": expected one of u8, u16",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.region]]\nname = \"r\"\nvariables = [\n{ name = \"v\", kind = \"u8\" },\n{ name = \"w\", kind = \"u8\", count = 0 },\n]\n",
            7,
            "`count` = 0 must be at least 1",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.region]]\nname = \"r\"\nvariables = [\n{ name = \"v\", kind = \"u64\", count = 536870911 },\n{ name = \"w\", kind = \"u64\", count = 2 },\n]\n",
            5,
            "ends past 4 GiB",
        ),
        // Duplicates.
        (
            "[[tenant]]\nname = \"t\"\n[[tenant]]\nname = \"u\"\n[[tenant]]\nname = \"t\"\n",
            6,
            "duplicate tenant \"t\" (first on line 2)",
        ),
        (
            &format!("{TENANT}[[tenant.client]]\nname = \"c\"\nsecret = \"x\"\n"),
            8,
            "duplicate client \"c\"",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.region]]\nname = \"r\"\nvariables = [{ name = \"v\", kind = \"u8\" }]\n[[tenant.region]]\nname = \"r\"\nvariables = [{ name = \"v\", kind = \"u8\" }]\n",
            7,
            "duplicate region \"r\" (first on line 4)",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.region]]\nname = \"r\"\nvariables = [\n{ name = \"v\", kind = \"u8\" },\n{ name = \"v\", kind = \"u16\" },\n]\n",
            7,
            "duplicate variable \"v\" (first on line 6)",
        ),
        // Secrets.
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"c\"\nsecret = \"k\"\nsecret_hex = \"00\"\n",
            6,
            "not both",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"c\"\nrights = []\n",
            4,
            "client \"c\" has no `secret`",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"c\"\nsecret_hex = \"0g\"\n",
            5,
            "hex digits",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"c\"\nsecret_hex = \"abc\"\n",
            5,
            "hex digits",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"c\"\nsecret = \"\"\n",
            5,
            "the secret is empty",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"c\"\nsecret_hex = \"\"\n",
            5,
            "the secret is empty",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"\"\nsecret = \"k\"\n",
            4,
            "client name \"\" must be 1 to 64 bytes",
        ),
        // Rights.
        (&format!("{TENANT}rights = []\n"), 7, "duplicate key"),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"c\"\nsecret = \"k\"\nrights = [\n{ regions = \"*\", access = \"read\" },\n{ regions = \"*\", access = \"write\" },\n]\n",
            8,
            "access \"write\" is not \"read\" or \"read-write\"",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"c\"\nsecret = \"k\"\nrights = [\n{ regions = \"a*b\", access = \"read\" },\n]\n",
            7,
            "region pattern \"a*b\"",
        ),
        (
            "[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"c\"\nsecret = \"k\"\nrights = [{ regions = \"\", access = \"read\" }]\n",
            6,
            "region pattern \"\"",
        ),
        // Limits.
        (
            "[limits]\nmax_frame = 1024\nhandshake_ms = 10001\n",
            3,
            "`handshake_ms` = 10001 must be from 1 to 10000",
        ),
        ("[limits]\n\nhandshake_ms = 0\n", 3, "`handshake_ms` = 0"),
        (
            "[limits]\nmax_frame = 127\n",
            2,
            "`max_frame` = 127 must be at least 128",
        ),
        (
            "[limits]\nmax_connections = 0\n",
            2,
            "`max_connections` = 0",
        ),
        ("[limits]\nrate_frames = 0\n", 2, "`rate_frames` = 0"),
        (
            "[limits]\nrate_byte_burst = 4096\n",
            2,
            "must be at least `max_frame` = 65536",
        ),
        (
            "[limits]\nmax_frame = 8388608\n",
            2,
            "`outbound_cap` = 4194304 must be at least `max_frame`",
        ),
        (
            "[limits]\nmax_frame = 1024\noutbound_cap = 1000\n",
            3,
            "`outbound_cap` = 1000",
        ),
        (
            "[limits]\nkeepalive_ms = 20000\n",
            2,
            "`timeout_ms` = 15000 must be longer than `keepalive_ms` = 20000",
        ),
        ("[limits]\nkeepalive_ms = 0\n", 2, "`keepalive_ms` = 0"),
        (
            "[limits]\nauth_delay_max_ms = 60001\n",
            2,
            "`auth_delay_max_ms` = 60001 must be at most 60000",
        ),
        (
            "[limits]\nauth_delay_ms = 6000\n",
            2,
            "`auth_delay_max_ms` = 5000 must be at least `auth_delay_ms` = 6000",
        ),
        (
            "[limits]\nauth_delay_ms = 10\nauth_delay_max_ms = 5\n",
            3,
            "`auth_delay_max_ms` = 5",
        ),
        ("[limits]\nauth_sources = 0\n", 2, "`auth_sources` = 0"),
        (
            "[limits]\nmax_frame = -1\n",
            2,
            "integer `-1`, expected u32",
        ),
        (
            "[limits]\nmax_frame = \"big\"\n",
            2,
            "invalid type: string \"big\"",
        ),
        // Publish.
        (
            "[publish]\nchunk = 48\n",
            2,
            "`chunk` = 48 must be a power of two",
        ),
        ("[publish]\nchunk = 0\n", 2, "`chunk` = 0"),
        // Addresses.
        (
            "[listen]\ntcp = \"localhost\"\n",
            2,
            "`listen.tcp` = \"localhost\" is not an address",
        ),
        (
            "[listen.tls]\naddr = \"1.2.3.4\"\ncert = \"c\"\nkey = \"k\"\n",
            2,
            "`listen.tls.addr`",
        ),
        (
            "[listen]\ntcp = \"127.0.0.1:5\"\n[listen.tls]\naddr = \"127.0.0.1:5\"\ncert = \"c\"\nkey = \"k\"\n",
            4,
            "the same as `listen.tcp`",
        ),
        (
            "[listen.tls]\naddr = \"127.0.0.1:5\"\ncert = \"\"\nkey = \"k\"\n",
            3,
            "`listen.tls.cert` is an empty path",
        ),
        ("\nroot = \"\"\n", 2, "`root` is an empty path"),
    ];
    for &(text, line, fragment) in cases {
        assert_error(text, line, fragment);
    }
}

#[test]
fn unknown_keys_are_refused_where_they_are() {
    assert_error("\n\ncolour = \"blue\"\n", 3, "unknown field `colour`");
    assert_error(
        "[limits]\nmax_frame = 1024\nmax_frames = 1\n",
        3,
        "unknown field `max_frames`",
    );
    assert_error("[publish]\nrate = 1\n", 2, "unknown field `rate`");
    assert_error("[listen]\nudp = \"x\"\n", 2, "unknown field `udp`");
    assert_error(
        "[[tenant]]\nname = \"t\"\n[[tenant.region]]\nname = \"r\"\nvariables = [\n{ name = \"v\", kind = \"u8\" },\n{ name = \"w\", kind = \"u8\", size = 4 },\n]\n",
        7,
        "unknown field `size`",
    );
    assert_error(
        "[[tenant]]\nname = \"t\"\n[[tenant.clients]]\nname = \"c\"\n",
        3,
        "unknown field `clients`",
    );
}

#[test]
fn toml_syntax_errors_have_positions() {
    let (line, message) = error("[limits]\nmax_frame = 1024\nkeepalive_ms = = 5\n");
    assert_eq!(line, 3, "{message}");
    assert_error("\n[[tenant]]\nregion = []\n", 2, "missing field `name`");
}

#[test]
fn columns_count_characters_from_one() {
    let e = Config::parse("[listen]\ntcp = \"x\"\n", "c.toml", Path::new("")).unwrap_err();
    assert!(e.to_string().starts_with("c.toml:2:7: "), "{e}");
    let text = "# é, ü\n[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"é\"\nsecret = \"\"\n";
    let e = Config::parse(text, "c.toml", Path::new("")).unwrap_err();
    assert!(e.to_string().starts_with("c.toml:6:10: "), "{e}");
    let e = Config::parse("tag = \"éé\" # x\n", "c.toml", Path::new("")).unwrap_err();
    assert!(e.to_string().starts_with("c.toml:1:1: "), "{e}");
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let config = full();
    let shown = format!("{config:?}");
    assert!(shown.contains("<6 bytes>"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
    let demo = format!("{:?}", Config::default_config());
    assert!(!demo.contains(DEMO_SECRET));
}

#[test]
fn hex_secrets_decode_in_either_case() {
    assert_eq!(file::decode_hex("00ffA0"), Some(vec![0, 0xff, 0xa0]));
    assert_eq!(file::decode_hex(""), Some(vec![]));
    assert_eq!(file::decode_hex("0"), None);
    assert_eq!(file::decode_hex("+1"), None);
    assert_eq!(file::decode_hex("é"), None);
}

/// The TOML blocks of `docs/hub-config.md`: the complete example, then the
/// built-in configuration.
fn documented_configs() -> Vec<&'static str> {
    const DOC: &str = include_str!("../../../../docs/hub-config.md");
    DOC.split("```toml\n")
        .skip(1)
        .filter_map(|block| block.split_once("```").map(|(toml, _)| toml))
        .collect()
}

#[test]
fn the_documented_configs_are_valid_and_current() {
    let blocks = documented_configs();
    assert_eq!(blocks.len(), 2);
    let example = Config::parse(blocks[0], "doc", Path::new("/etc/memwire")).unwrap();
    let plant = example.tenant("plant").unwrap();
    assert_eq!(
        example.access("plant", "dashboard", "setpoints"),
        Access::ReadWrite
    );
    assert_eq!(example.access("plant", "dashboard", "line-a"), Access::Read);
    assert_eq!(
        example.access("plant", "controller", "line-b"),
        Access::ReadWrite
    );
    assert_eq!(
        example.access("plant", "controller", "setpoints"),
        Access::None
    );
    assert_eq!(plant.regions.len(), 3);
    assert_eq!(plant.region("robot").unwrap().schema, None);
    // The example spells out every limit at its default.
    assert_eq!(example.limits, Limits::default());
    assert_eq!(example.publish, Publish::default());
    let built_in = Config::parse(blocks[1], "doc", Path::new("")).unwrap();
    assert_eq!(built_in, Config::default_config());
}

#[test]
fn a_region_publish_policy_is_delta_unless_manual() {
    let region = |publish: &str| {
        format!(
            "[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"c\"\nsecret = \"s\"\n\
             [[tenant.region]]\nname = \"r\"\n{publish}\nvariables = [{{ name = \"x\", kind = \"u8\" }}]\n"
        )
    };
    let policy = |publish: &str| {
        Config::parse(&region(publish), "p.toml", Path::new(""))
            .unwrap()
            .tenants[0]
            .regions[0]
            .publish
    };
    assert_eq!(policy(""), PublishPolicy::Delta);
    assert_eq!(policy("publish = \"delta\""), PublishPolicy::Delta);
    assert_eq!(policy("publish = \"manual\""), PublishPolicy::Manual);
    assert_error(
        &region("publish = \"full\""),
        8,
        "unknown publish policy \"full\": expected \"delta\" or \"manual\"",
    );
    assert_error(
        &region("publisher = \"c\"\npublish = \"manual\""),
        9,
        "a region a client publishes is sent as its publisher sends it",
    );
}

#[test]
fn a_region_without_variables_adopts_its_files_schema() {
    let text = "[[tenant]]\nname = \"t\"\ndiscover = true\n[[tenant.region]]\nname = \"r\"\n";
    let config = Config::parse(text, "adopt.toml", Path::new("")).unwrap();
    let tenant = config.tenant("t").unwrap();
    assert!(tenant.discover);
    assert_eq!(tenant.region("r").unwrap().schema, None);
    // Off unless the file says so.
    let full = full();
    assert!(!full.tenant("plant-1").unwrap().discover);
    // The hub creates a published region's copy, so it needs its variables.
    let published = "[[tenant]]\nname = \"t\"\n[[tenant.client]]\nname = \"dev\"\nsecret = \"k\"\n[[tenant.region]]\nname = \"r\"\npublisher = \"dev\"\n";
    assert_error(
        published,
        7,
        "region \"r\" is published by client \"dev\": the hub creates its copy, so it needs its `variables`",
    );
}

#[test]
fn the_zenoh_section_is_kept_as_written_for_the_bridge() {
    let text = "[[tenant]]\nname = \"t\"\n\n[zenoh]\nstate = \"s\"\nexport = [\"t/*\"]\n";
    let config = Config::parse(text, "hub.toml", Path::new("/etc/memwire")).unwrap();
    let section = config.zenoh.expect("the section");
    assert_eq!(section.origin, "hub.toml:4");
    assert_eq!(section.base_dir, Path::new("/etc/memwire"));
    let table: toml::Table = toml::from_str(&section.toml).unwrap();
    assert_eq!(table["state"].as_str(), Some("s"));
    assert_eq!(table["export"][0].as_str(), Some("t/*"));
    assert!(full().zenoh.is_none());
}
