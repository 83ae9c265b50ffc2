//! A client and a server in memory: handshake and authentication, a full
//! first update in frames smaller than the region, deltas, a remote write,
//! a refused write, a refused key, and an orderly close.
//!
//! The hub side is what a device publishing a `static` region would run:
//! it snapshots the live region, diffs it against its shadow with the
//! portable path and stamps the chunk table.

use memwire::codec::{ErrorCode, Resume};
use memwire::diff::{ByteRange, Differ, Generations};
use memwire::session::{
    Access, Client, ClientConfig, Event, Handle, Hub, RegionId, Server, ServerConfig, ServerEvent,
    Source, WriteRequest,
};
use memwire::time::{Duration, Instant};
use memwire::{Region, VarId};

use crate::Report;
use crate::schema::{DATA_LEN, ROBOT, Words, words};

/// The published region, written by "local" code.
static LIVE: Words = words();
/// The client's mirror of it.
static MIRROR: Words = words();
/// A mirror for the client whose key is wrong.
static STRANGER: Words = words();

const TENANT: &str = "acme";
const SECRET: &[u8] = b"probe-secret";
const INSTANCE: u64 = 0x1111;
/// The client's receive buffer: smaller than the region's data, so the
/// first update travels in several frames.
const CLIENT_RX: usize = 256;
/// The server's receive buffer.
const SERVER_RX: usize = 1024;
/// Ranges remembered from the hub's last scan.
const RECENT: usize = 16;

/// One region served from a live `Region`, with its shadow and chunk table.
struct DeviceHub<'t> {
    live: Region<'static>,
    shadow: [u8; DATA_LEN],
    table: Generations<'t>,
    generation: u64,
    recent: Option<(u64, [ByteRange; RECENT], usize)>,
}

impl DeviceHub<'_> {
    /// Diffs the live data against the shadow, stamps the changed chunks
    /// and moves the generation when something changed.
    fn scan(&mut self) {
        let mut current = [0u8; DATA_LEN];
        if self.live.snapshot(&mut current).is_err() {
            return;
        }
        let mut out = [ByteRange::default(); RECENT];
        let next = self.generation + 1;
        let marks = Some((&mut self.table, next));
        match Differ::portable().update(&current, &mut self.shadow, &mut out, marks) {
            Ok(0) => {}
            Ok(n) => {
                self.recent = Some((self.generation, out, n));
                self.generation = next;
            }
            // Too many ranges: the chunk table still covers them.
            Err(_) => {
                self.recent = None;
                self.generation = next;
            }
        }
    }
}

impl Hub for DeviceHub<'_> {
    fn secret(&self, tenant: &str, client: &str) -> Option<&[u8]> {
        (tenant == TENANT && client == "probe").then_some(SECRET)
    }

    fn access(&self, tenant: &str, _client: &str, region: &str) -> Access {
        if tenant == TENANT && region == "robot" {
            Access::ReadWrite
        } else {
            Access::None
        }
    }

    fn resolve(&self, tenant: &str, region: &str) -> Option<RegionId> {
        (tenant == TENANT && region == "robot").then_some(RegionId(0))
    }

    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        (region == RegionId(0)).then(|| Source {
            instance: INSTANCE,
            generation: self.generation,
            schema: ROBOT.as_schema(),
            data: &self.shadow,
            changes: self.table.table(),
            recent: self
                .recent
                .as_ref()
                .and_then(|(base, ranges, n)| Some((*base, ranges.get(..*n)?))),
        })
    }

    fn apply_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode> {
        if region != RegionId(0) {
            return Err(ErrorCode::UnknownRegion);
        }
        self.live
            .write_ranges(ranges, None)
            .map_err(|_| ErrorCode::OutOfBounds)?;
        self.scan();
        Ok(self.generation)
    }
}

/// What the client reported, kept for the checks.
#[derive(Default)]
struct Seen {
    connected: bool,
    updated: Option<(Handle, u64, bool)>,
    applied: Option<(u32, u64)>,
    refused: Option<(u32, ErrorCode)>,
    closed: Option<Option<ErrorCode>>,
    authenticated: bool,
}

/// A client and a server joined by in-memory pipes.
struct Pair<'t> {
    now: Instant,
    hub: DeviceHub<'t>,
    client: Client<'static, 2, CLIENT_RX>,
    server: Server<2, SERVER_RX>,
    seen: Seen,
}

impl Pair<'_> {
    /// Moves bytes both ways until neither side has anything to send;
    /// false if they never go quiet.
    fn drive(&mut self) -> bool {
        let mut to_server = [0u8; SERVER_RX + 5];
        let mut to_client = [0u8; CLIENT_RX + 5];
        for _ in 0..1_000 {
            let mut moved = false;
            while let Some(n) = self.client.poll_transmit(self.now, &mut to_server) {
                moved = true;
                let bytes = to_server.get(..n).unwrap_or(&[]);
                self.server.handle_input(self.now, bytes, &mut self.hub);
            }
            while let Some(n) = self
                .server
                .poll_transmit(self.now, &mut to_client, &self.hub)
            {
                moved = true;
                // Split in two to exercise reassembly across reads.
                let bytes = to_client.get(..n).unwrap_or(&[]);
                let (a, b) = bytes.split_at(n / 2);
                self.client.handle_input(self.now, a);
                self.client.handle_input(self.now, b);
            }
            self.collect();
            if !moved {
                return true;
            }
            self.now = self.now + Duration::from_millis(1);
        }
        false
    }

    fn collect(&mut self) {
        while let Some(event) = self.client.poll_event() {
            match event {
                Event::Connected { .. } => self.seen.connected = true,
                Event::Updated {
                    handle,
                    generation,
                    resynced,
                } => self.seen.updated = Some((handle, generation, resynced)),
                Event::WriteApplied {
                    request,
                    generation,
                } => self.seen.applied = Some((request, generation)),
                Event::WriteRefused { request, code } => self.seen.refused = Some((request, code)),
                Event::Closed { code } => self.seen.closed = Some(code),
                _ => {}
            }
        }
        while let Some(event) = self.server.poll_event() {
            if event == ServerEvent::Authenticated {
                self.seen.authenticated = true;
            }
        }
    }

    /// Whether the mirror holds the hub's shadow at the hub's generation.
    fn synced(&self, mirror: &Region<'_>) -> bool {
        let mut data = [0u8; DATA_LEN];
        mirror.snapshot(&mut data) == Ok(self.hub.generation) && data == self.hub.shadow
    }
}

/// Runs the session checks.
pub(crate) fn run(report: &mut Report) {
    report.section("session");
    let schema = ROBOT.as_schema();
    let (Ok(live), Ok(mirror), Ok(stranger)) = (
        Region::init(&LIVE, schema, INSTANCE),
        Region::init(&MIRROR, schema, 0xABCD),
        Region::init(&STRANGER, schema, 0xABCD),
    ) else {
        report.check("regions laid out", false);
        return;
    };
    let id = |name| schema.find(name).unwrap_or(VarId(u32::MAX));

    let mut table = [0u64; Generations::chunks_for(DATA_LEN, 64)];
    let Ok(mut changes) = Generations::new(&mut table, DATA_LEN, 64) else {
        report.check("chunk table", false);
        return;
    };
    changes.reset(1);
    let now = Instant::from_millis(1_000);
    let mut pair = Pair {
        now,
        hub: DeviceHub {
            live,
            shadow: [0; DATA_LEN],
            table: changes,
            generation: 1,
            recent: None,
        },
        client: Client::new(now, ClientConfig::new("probe", TENANT, SECRET)),
        server: Server::new(now, ServerConfig::new(7), [0x5A; 32]),
        seen: Seen::default(),
    };

    // Local writes before anyone subscribes.
    let mut log = [0u8; 600];
    for (i, b) in log.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let wrote =
        live.set(id("pos"), [1.0f32, 2.0, 3.0]).is_ok() && live.write(id("log"), &log).is_ok();
    pair.hub.scan();
    report.check(
        "hub: local writes scanned",
        wrote && pair.hub.generation == 2,
    );

    let quiet = pair.drive();
    report.check(
        "handshake: authenticated and connected",
        quiet
            && pair.client.is_connected()
            && pair.seen.connected
            && pair.seen.authenticated
            && pair.server.identity() == Some((TENANT, "probe")),
    );

    let handle = pair.client.subscribe("robot", mirror, None);
    let quiet = pair.drive();
    let Ok(handle) = handle else {
        report.check("subscribe", false);
        return;
    };
    let first = pair.client.stats();
    report.check(
        "first update: whole region, in several frames",
        quiet
            && pair.seen.updated == Some((handle, 2, true))
            && pair.synced(&mirror)
            && first.frames_in > 4
            && mirror.get::<[f32; 3]>(id("pos")) == Ok([1.0, 2.0, 3.0]),
    );

    let mut deltas = true;
    for i in 0..5u32 {
        let before = pair.client.stats().bytes_in;
        let wrote = live.set(id("count"), 100 + i).is_ok()
            && live.set(id("vel"), [i as f32, 0.5, -0.5]).is_ok();
        pair.hub.scan();
        let quiet = pair.drive();
        let sent = pair.client.stats().bytes_in - before;
        deltas &= wrote
            && quiet
            && pair.seen.updated == Some((handle, 3 + u64::from(i), false))
            && pair.synced(&mirror)
            && sent < 100;
    }
    report.check("five deltas: only the changed bytes, mirror equal", deltas);
    report.check(
        "mirror reads the latest values",
        mirror.get::<u32>(id("count")) == Ok(104)
            && mirror.get::<[f32; 3]>(id("vel")) == Ok([4.0, 0.5, -0.5]),
    );

    let value = 2.5f32.to_le_bytes();
    let request = pair.client.write(
        handle,
        WriteRequest::Variable {
            name: "setpoint",
            value: &value,
        },
    );
    let quiet = pair.drive();
    report.check(
        "remote write applied at the hub and mirrored back",
        quiet
            && request.is_ok_and(|r| pair.seen.applied == Some((r, pair.hub.generation)))
            && live.get::<f32>(id("setpoint")) == Ok(2.5)
            && mirror.get::<f32>(id("setpoint")) == Ok(2.5)
            && pair.synced(&mirror),
    );

    let request = pair.client.write(
        handle,
        WriteRequest::Variable {
            name: "count",
            value: &7u32.to_le_bytes(),
        },
    );
    let quiet = pair.drive();
    report.check(
        "write to a read-only variable refused",
        quiet
            && request.is_ok_and(|r| pair.seen.refused == Some((r, ErrorCode::ReadOnly)))
            && live.get::<u32>(id("count")) == Ok(104),
    );

    report.check(
        "resume point names the instance and generation",
        pair.client.resume_point(handle)
            == Some(Resume {
                instance: INSTANCE,
                generation: pair.hub.generation,
            }),
    );

    pair.client.close();
    let quiet = pair.drive();
    report.check(
        "orderly close on both sides",
        quiet
            && pair.client.is_closed()
            && pair.server.is_closed()
            && pair.seen.closed == Some(None),
    );

    // A client with the wrong key is refused and learns why.
    let mut refused = Pair {
        now,
        hub: pair.hub,
        client: Client::new(now, ClientConfig::new("probe", TENANT, b"wrong")),
        server: Server::new(now, ServerConfig::new(8), [0xA5; 32]),
        seen: Seen::default(),
    };
    let subscribed = refused.client.subscribe("robot", stranger, None);
    let quiet = refused.drive();
    report.check(
        "a wrong key is refused",
        quiet
            && !refused.seen.authenticated
            && !refused.seen.connected
            && refused.client.is_closed()
            && refused.seen.closed == Some(Some(ErrorCode::AuthFailed))
            && (subscribed.is_err() || refused.seen.updated.is_none()),
    );
}
