//! A hub's side of a connection whose client publishes a region, past an
//! honest handshake and (usually) an honest schema part, fed arbitrary
//! stream bytes in arbitrary splits: no panic, every reply fits the buffer
//! and holds whole frames that decode, every range written to the hub's
//! copy is inside it and the ranges of one write ascend without overlap,
//! and the copy is only ever said to hold generation 0, the generation it
//! resumed from, or one an update frame named, of an instance a schema part
//! named.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memwire::codec::{
    Auth, ErrorCode, Feed, Frame, FrameAccumulator, Framing, Hello, PROTOCOL_VERSION, Resume,
    SchemaPart, UpdateReference, VarTable,
};
use memwire::diff::Generations;
use memwire::schema::{Kind, Name, Schema, SchemaBuf, SchemaBuilder};
use memwire::session::{Access, Hub, RegionId, Server, ServerConfig, Source, auth};
use memwire::time::{Duration, Instant};

/// The client's telemetry, as the hub's copy is laid out.
static SCHEMA: SchemaBuf<4> = SchemaBuilder::new()
    .var("temp", Kind::F32, 1)
    .var("uptime", Kind::U32, 1)
    .var("led", Kind::Bool, 1)
    .writable()
    .var("samples", Kind::Bytes, 300)
    .build();

const NONCE: [u8; 32] = [3; 32];
const SECRET: &[u8] = b"fuzz-secret";
/// The hub's id for its copy of the client's region.
const COPY: RegionId = RegionId(5);
/// The largest frame body either side takes.
const MAX_FRAME: usize = 512;
/// The instance of the client's region, in the honest schema part.
const INSTANCE: u64 = 0xD1;

struct FuzzHub<'t> {
    schema: Schema<'static>,
    copy: Vec<u8>,
    table: Generations<'t>,
    resume: Option<Resume>,
    /// Generations the stream's update frames named so far.
    generations: Vec<u64>,
    /// Each subscription's reference, followed as the server follows it.
    references: std::collections::BTreeMap<u16, UpdateReference>,
    /// Instances the stream's schema parts named so far.
    instances: Vec<u64>,
    /// What the last `apply_update` said the copy holds.
    held: Option<Resume>,
}

impl Hub for FuzzHub<'_> {
    fn secret(&self, tenant: &str, client: &str) -> Option<&[u8]> {
        (tenant == "acme" && client == "fuzz").then_some(SECRET)
    }

    fn access(&self, _tenant: &str, _client: &str, _region: &str) -> Access {
        Access::Read
    }

    fn resolve(&self, _tenant: &str, _region: &str) -> Option<RegionId> {
        None
    }

    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        (region == COPY).then(|| Source {
            instance: 0x4242,
            generation: 1,
            schema: self.schema,
            data: &self.copy,
            changes: self.table.table(),
            recent: None,
        })
    }

    fn apply_write(
        &mut self,
        _region: RegionId,
        _ranges: &[(usize, &[u8])],
    ) -> Result<u64, ErrorCode> {
        panic!("the hub serves no region, so nothing can be written");
    }

    fn published(
        &self,
        tenant: &str,
        client: &str,
        visit: &mut dyn FnMut(RegionId, Name, Option<Resume>) -> bool,
    ) {
        if tenant == "acme" && client == "fuzz" {
            visit(COPY, Name::new("telemetry").unwrap(), self.resume);
        }
    }

    fn apply_update(
        &mut self,
        region: RegionId,
        ranges: &[(usize, &[u8])],
        held: Resume,
    ) -> Result<(), ErrorCode> {
        assert_eq!(
            region, COPY,
            "an update for a region the client does not publish"
        );
        let mut end = 0;
        for &(offset, bytes) in ranges {
            assert!(offset >= end, "ranges of one write overlap or descend");
            end = offset + bytes.len();
            assert!(
                end <= self.copy.len(),
                "range {offset}..{end} outside the copy's {} bytes",
                self.copy.len()
            );
            self.copy[offset..end].copy_from_slice(bytes);
        }
        let resumed = self.resume.is_some_and(|r| r == held);
        assert!(
            resumed || held.generation == 0 || self.generations.contains(&held.generation),
            "the copy is said to hold generation {}, which no update named",
            held.generation
        );
        assert!(
            resumed || self.instances.contains(&held.instance),
            "the copy is said to hold instance {:#x}, which no schema part named",
            held.instance
        );
        self.held = Some(held);
        Ok(())
    }
}

fn framed(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let n = Framing::LengthPrefix.encode(frame, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Drains the server's replies: each fits `out` and is whole frames that
/// decode and stay within the client's maximum frame.
fn drain(server: &mut Server<2, MAX_FRAME>, now: Instant, hub: &FuzzHub<'_>) {
    let mut out = [0u8; MAX_FRAME + 5];
    // Bounded: a server must run out of things to send.
    for _ in 0..10_000 {
        let Some(n) = server.poll_transmit(now, &mut out, hub) else {
            return;
        };
        assert!(n <= out.len(), "reply of {n} bytes over the buffer");
        let mut rx = FrameAccumulator::<MAX_FRAME>::length_prefix(MAX_FRAME);
        let mut input = &out[..n];
        loop {
            match rx.feed(input) {
                Feed::Frame { body, rest } => {
                    Frame::decode(body).expect("the server sends frames that decode");
                    input = rest;
                }
                Feed::Pending => break,
                Feed::Error { error, .. } => panic!("the server's framing is broken: {error:?}"),
            }
        }
        assert!(input.is_empty(), "a reply ends inside a frame");
    }
    panic!("poll_transmit never ran dry");
}

/// Records what the frames completed by `piece` name, before the server
/// reads them. The reader takes larger frames than the server does, so it
/// sees at least what the server sees.
fn note(rx: &mut FrameAccumulator<4096>, mut piece: &[u8], hub: &mut FuzzHub<'_>) {
    loop {
        match rx.feed(piece) {
            Feed::Frame { body, rest } => {
                match Frame::decode(body) {
                    Ok(Frame::Update(u)) => {
                        let reference = hub.references.entry(u.handle).or_default();
                        if let Some((_, generation)) = reference.take(&u) {
                            hub.generations.push(generation);
                        }
                    }
                    Ok(Frame::Schema(s)) => {
                        hub.references.entry(s.handle).or_default().reset();
                        hub.instances.push(s.instance);
                    }
                    _ => {}
                }
                piece = rest;
            }
            Feed::Pending | Feed::Error { .. } => return,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks where the copy stands and whether the client's
    // schema part comes honestly before the fuzzed bytes.
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let schema = SCHEMA.as_schema();
    let data_len = schema.data_len() as usize;
    let mut table = vec![0u64; Generations::chunks_for(data_len, 64)];
    let mut table = Generations::new(&mut table, data_len, 64).unwrap();
    table.reset(1);
    let resume = (flags & 1 != 0).then_some(Resume {
        instance: INSTANCE,
        generation: u64::from(flags >> 4),
    });
    let mut hub = FuzzHub {
        schema,
        copy: vec![0; data_len],
        table,
        resume,
        generations: Vec::new(),
        references: std::collections::BTreeMap::new(),
        instances: Vec::new(),
        held: None,
    };

    let mut now = Instant::from_millis(1);
    let mut server = Server::<2, MAX_FRAME>::new(now, ServerConfig::new(1), NONCE);
    let hello = Frame::Hello(Hello {
        version: PROTOCOL_VERSION,
        max_frame: MAX_FRAME as u32,
        client: "fuzz",
        tenant: "acme",
    });
    let mut body = [0u8; 128];
    let n = hello.encode(&mut body).unwrap();
    server.handle_input(now, &framed(&hello), &mut hub);
    drain(&mut server, now, &hub);
    let proof = auth::proof(SECRET, &NONCE, &body[..n]);
    server.handle_input(now, &framed(&Frame::Auth(Auth { proof })), &mut hub);
    // The welcome, then the subscribe to the client's region.
    drain(&mut server, now, &hub);
    assert!(server.identity().is_some(), "honest handshake accepted");

    if flags & 2 == 0 {
        let part = SchemaPart {
            handle: 0,
            instance: INSTANCE,
            fingerprint: schema.fingerprint(),
            data_len: data_len as u32,
            count: 4,
            first: 4,
            variables: VarTable::EMPTY,
        };
        hub.instances.push(INSTANCE);
        server.handle_input(now, &framed(&Frame::Schema(part)), &mut hub);
        drain(&mut server, now, &hub);
    }

    // The first byte of each piece says how long the piece is and whether
    // time passes after it.
    let mut reader = FrameAccumulator::<4096>::length_prefix(4096);
    let mut rest = data;
    while let Some((&head, tail)) = rest.split_first() {
        let take = usize::from(head & 0x7F).min(tail.len());
        let (piece, after) = tail.split_at(take);
        note(&mut reader, piece, &mut hub);
        server.handle_input(now, piece, &mut hub);
        drain(&mut server, now, &hub);
        if head & 0x80 != 0 {
            now = now + Duration::from_millis(u64::from(head & 0x7F) * 100);
            server.handle_timeout(now);
            drain(&mut server, now, &hub);
        }
        while server.poll_event().is_some() {}
        rest = after;
    }
});
