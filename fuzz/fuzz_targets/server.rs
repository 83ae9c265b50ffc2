//! A hub's side of a connection, past an honest handshake, fed arbitrary
//! stream bytes in arbitrary splits: no panic, every reply fits the buffer,
//! and the only bytes a client can change are those of writable variables,
//! whether written in one frame or in parts (kept here within a bound, as
//! a hub keeps them, and applied with the last part).
#![no_main]

use libfuzzer_sys::fuzz_target;
use memwire::codec::{Auth, ErrorCode, Frame, Framing, Hello, PROTOCOL_VERSION};
use memwire::diff::{ByteRange, Generations};
use memwire::schema::{Kind, Schema, SchemaBuf, SchemaBuilder};
use memwire::session::{Access, Hub, RegionId, Server, ServerConfig, Source, auth};
use memwire::time::{Duration, Instant};

static SCHEMA: SchemaBuf<3> = SchemaBuilder::new()
    .var("setpoint", Kind::F32, 2)
    .writable()
    .var("status", Kind::U32, 1)
    .var("label", Kind::Bytes, 20)
    .writable()
    .build();

const NONCE: [u8; 32] = [3; 32];
const SECRET: &[u8] = b"fuzz-secret";

struct FuzzHub<'t> {
    schema: Schema<'static>,
    data: Vec<u8>,
    table: Generations<'t>,
    generation: u64,
    recent: Option<(u64, Vec<ByteRange>)>,
    /// The parts of a write received so far.
    staged: Vec<(usize, Vec<u8>)>,
}

/// Bytes of a write in parts the hub keeps.
const STAGED_MAX: usize = 40;

impl<'t> FuzzHub<'t> {
    fn new(table: &'t mut [u64]) -> FuzzHub<'t> {
        let schema = SCHEMA.as_schema();
        let data_len = 64;
        let mut table = Generations::new(table, data_len, 64).unwrap();
        table.reset(1);
        FuzzHub {
            schema,
            data: vec![0; data_len],
            table,
            generation: 1,
            recent: None,
            staged: Vec::new(),
        }
    }
}

impl Hub for FuzzHub<'_> {
    fn secret(&self, tenant: &str, client: &str) -> Option<&[u8]> {
        (tenant == "acme" && client == "fuzz").then_some(SECRET)
    }

    fn access(&self, _tenant: &str, _client: &str, region: &str) -> Access {
        if region == "robot" {
            Access::ReadWrite
        } else {
            Access::Read
        }
    }

    fn resolve(&self, tenant: &str, region: &str) -> Option<RegionId> {
        (tenant == "acme" && matches!(region, "robot" | "view")).then_some(RegionId(0))
    }

    fn source(&self, region: RegionId) -> Option<Source<'_>> {
        (region == RegionId(0)).then(|| Source {
            instance: 7,
            generation: self.generation,
            schema: self.schema,
            data: &self.data,
            changes: self.table.table(),
            recent: self.recent.as_ref().map(|(b, r)| (*b, &r[..])),
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
        let staged = std::mem::take(&mut self.staged);
        let base = self.generation;
        self.generation += 1;
        let mut changed = Vec::new();
        let all = staged.iter().map(|(o, b)| (*o, &b[..])).chain(ranges.iter().copied());
        for (offset, bytes) in all {
            let end = offset + bytes.len();
            // The server promises ranges inside writable variables.
            let inside = self
                .schema
                .variables()
                .iter()
                .any(|v| v.writable && v.range().start <= offset && end <= v.range().end);
            assert!(inside, "write {offset}..{end} outside writable variables");
            self.data[offset..end].copy_from_slice(bytes);
            self.table
                .mark(ByteRange::new(offset, end), self.generation);
            changed.push(ByteRange::new(offset, end));
        }
        self.recent = Some((base, changed));
        Ok(self.generation)
    }

    fn stage_write(&mut self, region: RegionId, ranges: &[(usize, &[u8])]) -> Result<(), ErrorCode> {
        if region != RegionId(0) {
            return Err(ErrorCode::UnknownRegion);
        }
        let kept: usize = self.staged.iter().map(|(_, b)| b.len()).sum();
        let more: usize = ranges.iter().map(|(_, b)| b.len()).sum();
        if kept + more > STAGED_MAX {
            return Err(ErrorCode::LimitExceeded);
        }
        let end = self.staged.last().map_or(0, |(o, b)| o + b.len());
        assert!(ranges.first().is_none_or(|&(o, _)| o >= end), "parts out of order");
        self.staged.extend(ranges.iter().map(|&(o, b)| (o, b.to_vec())));
        Ok(())
    }

    fn drop_staged(&mut self) {
        self.staged.clear();
    }
}

fn framed(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let n = Framing::LengthPrefix.encode(frame, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn drain(server: &mut Server<2, 512>, now: Instant, hub: &FuzzHub<'_>) {
    let mut out = [0u8; 600];
    // Bounded: a server must run out of things to send.
    for _ in 0..10_000 {
        match server.poll_transmit(now, &mut out, hub) {
            Some(n) => assert!(n <= out.len()),
            None => return,
        }
    }
    panic!("poll_transmit never ran dry");
}

fuzz_target!(|data: &[u8]| {
    let mut table = [0u64; 1];
    let mut hub = FuzzHub::new(&mut table);
    let mut now = Instant::from_millis(1);
    let mut server = Server::<2, 512>::new(now, ServerConfig::new(1), NONCE);
    let hello = Hello {
        version: PROTOCOL_VERSION,
        max_frame: 512,
        client: "fuzz",
        tenant: "acme",
    };
    let hello_frame = Frame::Hello(hello);
    let mut body = [0u8; 128];
    let n = hello_frame.encode(&mut body).unwrap();
    server.handle_input(now, &framed(&hello_frame), &mut hub);
    drain(&mut server, now, &hub);
    let proof = auth::proof(SECRET, &NONCE, &body[..n]);
    server.handle_input(now, &framed(&Frame::Auth(Auth { proof })), &mut hub);
    drain(&mut server, now, &hub);
    assert!(server.identity().is_some(), "honest handshake accepted");

    // The first byte of each piece says how long the piece is.
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let take = usize::from(len % 64).min(tail.len());
        let (piece, after) = tail.split_at(take);
        server.handle_input(now, piece, &mut hub);
        drain(&mut server, now, &hub);
        now = now + Duration::from_millis(u64::from(len));
        server.handle_timeout(now);
        drain(&mut server, now, &hub);
        rest = after;
    }
    // The read-only variable was never written.
    assert_eq!(&hub.data[8..12], &[0; 4]);
});
