//! A deterministic two-peer harness: a client and a server joined by
//! in-memory byte pipes, a simulated clock, and a hub of Vec-backed regions
//! scanned with the real diff engine and chunk table.

mod cache;
mod describe;
mod handshake;
mod hostile;
mod login;
mod parts;
mod props;
mod publish;
mod rights;
mod sync;
mod timers;

use std::boxed::Box;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::Region;
use crate::codec::{ErrorCode, RegionInfo, RegionList, Resume, SchemaPart};
use crate::diff::{ByteRange, Differ, Generations};
use crate::layout::{init, required_len};
use crate::schema::{Kind, Name, Schema, SchemaBuf, SchemaBuilder, Variable, name_index};
use crate::time::{Duration, Instant};

/// Bytes of the big test region: 1 MiB, smaller under miri.
pub(super) const BIG: u32 = if cfg!(miri) { 4 << 10 } else { 1 << 20 };

/// A telemetry-and-setpoint region.
pub(super) static ROBOT: SchemaBuf<6> = SchemaBuilder::new()
    .var("pos", Kind::F32, 3)
    .var("vel", Kind::F32, 3)
    .var("setpoint", Kind::F32, 1)
    .writable()
    .var("flag", Kind::Bool, 1)
    .writable()
    .var("count", Kind::U32, 1)
    .var("log", Kind::Bytes, 2000)
    .build();

/// The same names, another layout.
pub(super) static OTHER: SchemaBuf<1> = SchemaBuilder::new().var("pos", Kind::F64, 3).build();

/// One large variable.
pub(super) static BLOB: SchemaBuf<1> = SchemaBuilder::new().var("blob", Kind::Bytes, BIG).build();

pub(super) struct TestRegion {
    pub(super) name: &'static str,
    pub(super) instance: u64,
    pub(super) schema: Schema<'static>,
    /// What local writers write.
    pub(super) live: Vec<u8>,
    shadow: Vec<u8>,
    table: Generations<'static>,
    pub(super) generation: u64,
    recent: Option<(u64, Vec<ByteRange>)>,
}

impl TestRegion {
    pub(super) fn new(name: &'static str, schema: Schema<'static>, instance: u64) -> TestRegion {
        let len = (schema.data_len() as usize).div_ceil(64) * 64;
        let chunks = Generations::chunks_for(len, 64);
        let table: &'static mut [u64] = Box::leak(vec![0u64; chunks].into_boxed_slice());
        let mut table = Generations::new(table, len, 64).unwrap();
        table.reset(1);
        TestRegion {
            name,
            instance,
            schema,
            live: vec![0; len],
            shadow: vec![0; len],
            table,
            generation: 1,
            recent: None,
        }
    }

    /// What the hub does periodically: diff the live data against the
    /// shadow, stamp the chunks, move the generation.
    pub(super) fn scan(&mut self) {
        let mut out = [ByteRange::default(); 64];
        let next = self.generation + 1;
        let result = Differ::new().update(
            &self.live,
            &mut self.shadow,
            &mut out,
            Some((&mut self.table, next)),
        );
        match result {
            Ok(0) => {}
            Ok(n) => {
                self.recent = Some((self.generation, out[..n].to_vec()));
                self.generation = next;
            }
            Err(_) => {
                self.recent = None;
                self.generation = next;
            }
        }
    }

    pub(super) fn data(&self) -> &[u8] {
        &self.shadow
    }
}

#[derive(Default)]
pub(super) struct TestHub {
    pub(super) regions: Vec<TestRegion>,
    /// (tenant, client, secret)
    pub(super) clients: Vec<(&'static str, &'static str, &'static [u8])>,
    /// (client, region, access); a missing entry is `Read`.
    pub(super) rights: Vec<(&'static str, &'static str, Access)>,
    /// Whether the hub leaves its regions out of the welcome, as a hub
    /// that keeps `Hub::regions`' default does.
    pub(super) unlisted: bool,
    /// Regions clients publish: (client, name at the client, the hub's
    /// copy, where the copy stands).
    pub(super) published: Vec<(&'static str, &'static str, &'static str, Option<Resume>)>,
    /// Update parts shared between subscriptions (every region's parts
    /// in one cache: keys differ by generation and base).
    pub(super) cache: Option<cache::TestCache>,
    /// While true, writes are deferred and recorded here: (request,
    /// region, ranges).
    pub(super) defer: bool,
    pub(super) deferred: Vec<Deferred>,
    /// Writes applied through `apply_write`.
    pub(super) writes_applied: usize,
    /// A region that stopped being served, and the hub's reason.
    pub(super) gone: Option<(&'static str, &'static str)>,
    /// The parts of a write in parts received so far.
    pub(super) staged: Vec<(usize, Vec<u8>)>,
}

/// A deferred write: request id, region, ranges.
pub(super) type Deferred = (u32, RegionId, Vec<(usize, Vec<u8>)>);

pub(super) const TENANT: &str = "acme";

impl TestHub {
    pub(super) fn new() -> TestHub {
        TestHub {
            regions: vec![
                TestRegion::new("robot", ROBOT.as_schema(), 0x1111),
                TestRegion::new("blob", BLOB.as_schema(), 0x2222),
            ],
            clients: vec![(TENANT, "probe", b"probe-secret"), ("other", "probe", b"x")],
            rights: vec![("probe", "robot", Access::ReadWrite)],
            unlisted: false,
            published: Vec::new(),
            cache: None,
            defer: false,
            deferred: Vec::new(),
            writes_applied: 0,
            gone: None,
            staged: Vec::new(),
        }
    }

    pub(super) fn region(&mut self, name: &str) -> &mut TestRegion {
        self.regions.iter_mut().find(|r| r.name == name).unwrap()
    }
}

impl Hub for TestHub {
    fn secret(&self, tenant: &str, client: &str) -> Option<&[u8]> {
        self.clients
            .iter()
            .find(|(t, c, _)| *t == tenant && *c == client)
            .map(|(_, _, s)| *s)
    }

    fn knows_tenant(&self, tenant: &str) -> bool {
        tenant == TENANT
    }

    fn access(&self, tenant: &str, client: &str, region: &str) -> Access {
        if tenant != TENANT {
            return Access::None;
        }
        self.rights
            .iter()
            .find(|(c, r, _)| *c == client && *r == region)
            .map_or(Access::Read, |(_, _, a)| *a)
    }

    fn resolve(&self, tenant: &str, region: &str) -> Option<RegionId> {
        if tenant != TENANT {
            return None;
        }
        let i = self.regions.iter().position(|r| r.name == region)?;
        Some(RegionId(i as u32))
    }

    fn regions(
        &self,
        tenant: &str,
        _client: &str,
        visit: &mut dyn FnMut(RegionInfo) -> bool,
    ) -> bool {
        if self.unlisted {
            return false;
        }
        // Every region of the tenant: the server leaves out those the
        // client may not see.
        if tenant == TENANT {
            for r in &self.regions {
                let info = RegionInfo {
                    name: Name::new(r.name).unwrap(),
                    instance: r.instance,
                };
                if !visit(info) {
                    break;
                }
            }
        }
        true
    }

    fn unavailable(&self, region: RegionId) -> (ErrorCode, &'static str) {
        match (self.regions.get(region.0 as usize), self.gone) {
            (Some(r), Some((name, reason))) if r.name == name => (ErrorCode::Other, reason),
            _ => (ErrorCode::UnknownRegion, "no such region"),
        }
    }

    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        let r = self.regions.get(region.0 as usize)?;
        if self.gone.is_some_and(|(name, _)| name == r.name) {
            return None;
        }
        Some(Source {
            instance: r.instance,
            generation: r.generation,
            schema: r.schema,
            data: &r.shadow,
            changes: r.table.table(),
            recent: r.recent.as_ref().map(|(base, ranges)| (*base, &ranges[..])),
        })
    }

    fn apply_write(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode> {
        let r = self
            .regions
            .get_mut(region.0 as usize)
            .ok_or(ErrorCode::UnknownRegion)?;
        let staged = core::mem::take(&mut self.staged);
        let all = staged.iter().map(|(o, b)| (*o, &b[..]));
        for (offset, bytes) in all.chain(ranges.iter().copied()) {
            r.live[offset..offset + bytes.len()].copy_from_slice(bytes);
        }
        r.scan();
        self.writes_applied += 1;
        Ok(r.generation)
    }

    fn stage_write(
        &mut self,
        _region: RegionId,
        ranges: &[(usize, &[u8])],
    ) -> Result<(), ErrorCode> {
        self.staged
            .extend(ranges.iter().map(|&(o, b)| (o, b.to_vec())));
        Ok(())
    }

    fn drop_staged(&mut self) {
        self.staged.clear();
    }

    fn published(
        &self,
        tenant: &str,
        client: &str,
        visit: &mut dyn FnMut(RegionId, Name, Option<Resume>) -> bool,
    ) {
        for &(c, name, copy, resume) in &self.published {
            if tenant != TENANT || c != client {
                continue;
            }
            let id = self.resolve(tenant, copy).unwrap();
            if !visit(id, Name::new(name).unwrap(), resume) {
                break;
            }
        }
    }

    fn defer_write(&mut self, region: RegionId, ranges: &[(usize, &[u8])], request: u32) -> bool {
        if self.defer {
            let owned = ranges.iter().map(|&(o, b)| (o, b.to_vec())).collect();
            self.deferred.push((request, region, owned));
        }
        self.defer
    }

    fn cache(&self, _region: RegionId) -> Option<&dyn UpdateCache> {
        self.cache.as_ref().map(|c| c as &dyn UpdateCache)
    }

    fn apply_update(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
        held: Resume,
    ) -> Result<(), ErrorCode> {
        let r = self
            .regions
            .get_mut(region.0 as usize)
            .ok_or(ErrorCode::UnknownRegion)?;
        for &(offset, bytes) in ranges {
            r.live[offset..offset + bytes.len()].copy_from_slice(bytes);
        }
        r.scan();
        let name = r.name;
        for entry in self.published.iter_mut().filter(|e| e.2 == name) {
            entry.3 = (held.generation != 0).then_some(held);
        }
        Ok(())
    }
}

/// A fresh mirror for `schema`, in leaked memory.
pub(super) fn mirror(schema: Schema<'static>) -> Region<'static> {
    let len = required_len(&schema).unwrap();
    let words: &'static mut [u32] = Box::leak(vec![0u32; len / 4].into_boxed_slice());
    let bytes: &'static mut [u8] = bytemuck::cast_slice_mut(words);
    init(bytes, &schema, 0xABCD).unwrap();
    Region::from_bytes(bytes, schema).unwrap()
}

/// A schema built at run time from `vars` (offsets in place), in leaked
/// memory.
pub(super) fn leak_schema(vars: Vec<Variable>) -> Schema<'static> {
    let vars: &'static [Variable] = vars.leak();
    let index: &'static mut [u32] = vec![0u32; vars.len()].leak();
    name_index(vars, index).unwrap();
    Schema::new_checked(vars, index).unwrap()
}

/// What a caller that does not know a region's schema does: keeps the
/// welcome's list, gathers the table from the schema parts, and builds a
/// mirror from it.
#[derive(Default)]
pub(super) struct Describer {
    /// The welcome's regions and `complete`.
    pub(super) welcome: Option<(Vec<RegionInfo>, bool)>,
    /// Per part shown: handle, `first`, number of variables, `count`.
    pub(super) parts: Vec<(Handle, u32, usize, u32)>,
    vars: Vec<Variable>,
    /// Mirrors handed over, with their handles.
    pub(super) mirrors: Vec<(Handle, Region<'static>)>,
    /// Returns no mirror for the whole table.
    pub(super) decline: bool,
    /// A mirror returned on the first part (a schema known by its
    /// fingerprint).
    pub(super) known: Option<Region<'static>>,
    /// The regions the client publishes.
    pub(super) published: Option<OwnRegion<'static>>,
    /// The room lent for the parts of updates (one for every handle).
    pub(super) held: Option<TestHeld>,
}

/// Room for the parts of an update, on the heap, as a std client lends it.
#[derive(Default)]
pub(super) struct TestHeld {
    ranges: Vec<(usize, Vec<u8>)>,
}

impl HeldParts for TestHeld {
    fn clear(&mut self) {
        self.ranges.clear();
    }

    fn hold(&mut self, ranges: crate::codec::Ranges<'_>) {
        self.ranges.extend(
            ranges
                .iter()
                .map(|span| (span.range().start, span.bytes.to_vec())),
        );
    }

    fn commit(
        &mut self,
        mirror: &Region<'_>,
        last: crate::codec::Ranges<'_>,
        generation: u64,
    ) -> Result<u64, crate::region::AccessError> {
        let all: Vec<(usize, &[u8])> = self
            .ranges
            .iter()
            .map(|(offset, bytes)| (*offset, &bytes[..]))
            .chain(last.iter().map(|span| (span.range().start, span.bytes)))
            .collect();
        let written = mirror.write_ranges(&all, Some(generation));
        self.ranges.clear();
        written
    }
}

impl Observer<'static> for Describer {
    fn schema_part(&mut self, handle: Handle, part: &SchemaPart<'_>) -> Option<Region<'static>> {
        let vars: Vec<Variable> = part.variables.iter().collect();
        let n = vars.len();
        self.parts.push((handle, part.first, n, part.count));
        if let Some(m) = self.known.take() {
            self.mirrors.push((handle, m));
            return Some(m);
        }
        if part.first == 0 {
            self.vars.clear();
        }
        self.vars.extend(vars);
        if part.first as usize + n != part.count as usize || self.decline {
            return None;
        }
        let schema = leak_schema(core::mem::take(&mut self.vars));
        assert_eq!(schema.fingerprint(), part.fingerprint);
        let m = mirror(schema);
        self.mirrors.push((handle, m));
        Some(m)
    }

    fn regions(&mut self, list: RegionList<'_>, complete: bool) {
        self.welcome = Some((list.iter().collect(), complete));
    }

    fn published(&mut self) -> Option<&mut dyn OwnRegions> {
        self.published.as_mut().map(|p| p as &mut dyn OwnRegions)
    }

    fn held_parts(&mut self, _: Handle) -> Option<&mut dyn HeldParts> {
        self.held.as_mut().map(|h| h as &mut dyn HeldParts)
    }
}

/// The mirror's data area and generation.
pub(super) fn contents(region: &Region<'_>) -> (Vec<u8>, u64) {
    let mut out = vec![0; region.data_len()];
    let generation = region.snapshot(&mut out).unwrap();
    (out, generation)
}

pub(super) const SECRET: &[u8] = b"probe-secret";

pub(super) fn client_config() -> ClientConfig<'static> {
    ClientConfig::new("probe", TENANT, SECRET)
}

/// Splits length-prefixed bytes into whole framed frames.
pub(super) fn split_frames(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (mut len, mut shift, mut i) = (0usize, 0, 0);
        loop {
            let b = bytes[i];
            len |= usize::from(b & 0x7F) << shift;
            shift += 7;
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        frames.push(bytes[..i + len].to_vec());
        bytes = &bytes[i + len..];
    }
    frames
}

/// The body of a framed frame.
pub(super) fn body(framed: &[u8]) -> &[u8] {
    let i = framed.iter().position(|b| b & 0x80 == 0).unwrap();
    &framed[i + 1..]
}

type Mangle = Box<dyn FnMut(Vec<Vec<u8>>) -> Vec<Vec<u8>>>;

/// A client and a server joined by in-memory pipes.
pub(super) struct Pair<const RX: usize> {
    pub(super) now: Instant,
    pub(super) hub: TestHub,
    pub(super) client: Client<'static, 4, RX>,
    pub(super) server: Server<4, 4096>,
    /// While set, the server's side is this handshake: `server` is
    /// replaced with the session built from it once the client
    /// authenticated (the hub's way; `Server::new` runs its own).
    pub(super) login: Option<Handshake>,
    /// Bytes the client sent, in order.
    pub(super) client_log: Vec<u8>,
    /// While true, what the client sends is kept back (a peer that acks
    /// slowly).
    pub(super) hold_client: bool,
    pub(super) held: Vec<u8>,
    /// While set, server frames pass through it before the client.
    pub(super) mangle: Option<Mangle>,
    /// Server frames delivered to the client, framed.
    pub(super) server_frames: Vec<Vec<u8>>,
    /// The update parts among them: handle, base, generation and last,
    /// read against each subscription's reference as the client reads
    /// them.
    pub(super) server_updates: Vec<(u16, u64, u64, bool)>,
    references: std::collections::BTreeMap<u16, crate::codec::UpdateReference>,
    /// While set, at most this many more server frames reach the client;
    /// the rest are lost (a connection that drops).
    pub(super) budget: Option<usize>,
    pub(super) events: Vec<Event>,
    /// While set, the client's input goes through `handle_input_with`.
    pub(super) observer: Option<Describer>,
}

impl<const RX: usize> Pair<RX> {
    pub(super) fn new(hub: TestHub) -> Self {
        Self::with(hub, client_config(), ServerConfig::new(7))
    }

    pub(super) fn with(hub: TestHub, client: ClientConfig<'static>, server: ServerConfig) -> Self {
        let now = Instant::from_millis(1_000);
        Pair {
            now,
            hub,
            client: Client::new(now, client),
            server: Server::new(now, server, [0x5A; 32]),
            login: None,
            client_log: Vec::new(),
            hold_client: false,
            held: Vec::new(),
            mangle: None,
            server_frames: Vec::new(),
            server_updates: Vec::new(),
            references: std::collections::BTreeMap::new(),
            budget: None,
            events: Vec::new(),
            observer: None,
        }
    }

    /// Moves bytes both ways until neither side has anything to send.
    pub(super) fn drive(&mut self) {
        let mut buf = vec![0u8; 8192];
        let mut small = vec![0u8; RX + 5];
        for _ in 0..1_000_000 {
            let mut moved = false;
            loop {
                let sent = match self.observer.as_mut() {
                    Some(observer) => self.client.poll_transmit_with(self.now, &mut buf, observer),
                    None => self.client.poll_transmit(self.now, &mut buf),
                };
                let Some(n) = sent else {
                    break;
                };
                moved = true;
                self.client_log.extend_from_slice(&buf[..n]);
                if self.hold_client {
                    self.held.extend_from_slice(&buf[..n]);
                } else {
                    self.server_input(n, &buf);
                }
            }
            // Server frames are cut to what the client takes.
            let out: &mut [u8] = if RX + 5 < buf.len() {
                &mut small
            } else {
                &mut buf
            };
            while let Some(n) = match self.login.as_mut() {
                Some(login) => login.poll_transmit(self.now, out),
                None => self.server.poll_transmit(self.now, out, &self.hub),
            } {
                moved = true;
                let mut frames = split_frames(&out[..n]);
                if let Some(mangle) = self.mangle.as_mut() {
                    frames = mangle(frames);
                }
                for frame in frames {
                    if let Some(left) = self.budget.as_mut() {
                        if *left == 0 {
                            continue;
                        }
                        *left -= 1;
                    }
                    assert!(
                        body(&frame).len() <= RX.max(128),
                        "frame over the client's limit"
                    );
                    match self.observer.as_mut() {
                        Some(observer) => {
                            self.client.handle_input_with(self.now, &frame, observer);
                        }
                        None => self.client.handle_input(self.now, &frame),
                    }
                    self.note_update(&frame);
                    self.server_frames.push(frame);
                }
            }
            while let Some(e) = self.client.poll_event() {
                self.events.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("the peers never went quiet");
    }

    /// Forgets the server frames seen so far.
    pub(super) fn clear_frames(&mut self) {
        self.server_frames.clear();
        self.server_updates.clear();
    }

    /// Follows each subscription's reference through the frames the
    /// client gets, to name every update part's base and generation.
    fn note_update(&mut self, framed: &[u8]) {
        use crate::codec::Frame;
        match Frame::decode(body(framed)) {
            Ok(Frame::Schema(s)) => self.references.entry(s.handle).or_default().reset(),
            Ok(Frame::Update(u)) => {
                let reference = self.references.entry(u.handle).or_default();
                // A part the client cannot place (u64::MAX: no generation).
                let (base, generation) = reference.take(&u).unwrap_or((u64::MAX, u64::MAX));
                self.server_updates
                    .push((u.handle, base, generation, u.last));
            }
            _ => {}
        }
    }

    /// The first `n` bytes of `buf` to the server's side: the handshake
    /// while there is one, then the session built from it.
    fn server_input(&mut self, n: usize, buf: &[u8]) {
        let mut input = &buf[..n];
        if let Some(login) = self.login.as_mut() {
            input = login.handle_input(self.now, input, &self.hub);
            let Some(server) = Server::after_login(login) else {
                return;
            };
            self.server = server;
            self.login = None;
        }
        self.server.handle_input(self.now, input, &mut self.hub);
    }

    /// Delivers what the client sent while held.
    pub(super) fn release(&mut self) {
        self.hold_client = false;
        let held = core::mem::take(&mut self.held);
        self.server_input(held.len(), &held);
    }

    /// Advances the clock and fires due timers on both sides.
    pub(super) fn advance(&mut self, by: Duration) {
        self.now = self.now + by;
        if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
            self.client.handle_timeout(self.now);
        }
        if let Some(login) = self.login.as_mut() {
            if login.poll_timeout().is_some_and(|t| t <= self.now) {
                login.handle_timeout(self.now);
            }
        } else if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
        }
    }

    pub(super) fn connect(hub: TestHub) -> Self {
        let mut pair = Self::new(hub);
        pair.drive();
        assert!(pair.client.is_connected());
        pair
    }

    /// Subscribes a fresh mirror to `region` and syncs it.
    pub(super) fn subscribe(
        &mut self,
        region: &str,
        schema: Schema<'static>,
    ) -> (Handle, Region<'static>) {
        let m = mirror(schema);
        let h = self.client.subscribe(region, m, None).unwrap();
        self.drive();
        (h, m)
    }

    /// Asserts that the mirror equals the hub's shadow and generation.
    pub(super) fn assert_synced(&mut self, region: &str, m: &Region<'_>) {
        let r = self.hub.region(region);
        let (data, generation) = contents(m);
        let differ: Vec<usize> = (0..data.len())
            .filter(|&i| data[i] != r.data()[i])
            .collect();
        assert!(
            differ.is_empty(),
            "mirror differs from the source at {} bytes from {:?} (mirror at {generation}, source at {})",
            differ.len(),
            differ.first(),
            r.generation
        );
        assert_eq!(generation, r.generation);
    }

    pub(super) fn take_events(&mut self) -> Vec<Event> {
        core::mem::take(&mut self.events)
    }
}

pub(super) fn resume_of(pair: &Pair<4096>, h: Handle) -> Resume {
    pair.client.resume_point(h).unwrap()
}
