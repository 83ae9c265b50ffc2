//! A client past its handshake with a described subscription (no schema
//! known), fed arbitrary stream bytes split arbitrarily: the variable table
//! it is shown is turned into a mirror when it is whole and valid; nothing
//! panics, and a mirror, once made, keeps a valid layout.
#![no_main]

use core::sync::atomic::AtomicU32;
use std::cell::OnceCell;

use libfuzzer_sys::fuzz_target;
use memwire::codec::{
    Challenge, Frame, Framing, Limits, PROTOCOL_VERSION, RegionList, SchemaPart, Welcome,
};
use memwire::layout::required_len;
use memwire::schema::{Schema, Variable, name_index};
use memwire::session::{Client, ClientConfig, Handle, Observer};
use memwire::time::Instant;
use memwire::Region;

/// Mirror memory the observer may use: 16 KiB.
const WORDS: usize = 4096;

fn framed(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let n = Framing::LengthPrefix.encode(frame, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

struct Build<'a> {
    vars: Vec<Variable>,
    table: &'a OnceCell<(Vec<Variable>, Vec<u32>)>,
    words: &'a [AtomicU32],
    made: Option<Region<'a>>,
}

impl<'a> Observer<'a> for Build<'a> {
    fn schema_part(&mut self, _handle: Handle, part: &SchemaPart<'_>) -> Option<Region<'a>> {
        if part.first == 0 {
            self.vars.clear();
        }
        self.vars.extend(part.variables.iter().take(1024));
        if self.vars.len() != part.count as usize || self.table.get().is_some() {
            return None;
        }
        let mut index = vec![0u32; self.vars.len()];
        name_index(&self.vars, &mut index).ok()?;
        Schema::new_checked(&self.vars, &index).ok()?;
        let _ = self.table.set((std::mem::take(&mut self.vars), index));
        let (vars, index) = self.table.get()?;
        let schema = Schema::new_checked(vars, index).ok()?;
        let len = required_len(&schema).ok()?;
        let words = self.words.get(..len.div_ceil(4))?;
        let region = Region::init(words, schema, part.instance).ok()?;
        self.made = Some(region);
        Some(region)
    }
}

fuzz_target!(|data: &[u8]| {
    let table = OnceCell::new();
    let words: Vec<AtomicU32> = (0..WORDS).map(|_| AtomicU32::new(0)).collect();
    let mut build = Build {
        vars: Vec::new(),
        table: &table,
        words: &words,
        made: None,
    };

    let now = Instant::from_millis(1);
    let mut client = Client::<2, 512>::new(now, ClientConfig::new("fuzz", "acme", b"k"));
    let mut out = [0u8; 1024];
    client.poll_transmit(now, &mut out).unwrap();
    client.handle_input(
        now,
        &framed(&Frame::Challenge(Challenge {
            version: PROTOCOL_VERSION,
            nonce: [1; 32],
        })),
    );
    client.poll_transmit(now, &mut out).unwrap();
    let limits = Limits {
        max_frame: 512,
        max_in_flight: 2,
        max_subscriptions: 2,
        keepalive_ms: 5000,
        timeout_ms: 15000,
        write: true,
    };
    client.handle_input(
        now,
        &framed(&Frame::Welcome(Welcome {
            session: 1,
            limits,
            complete: true,
            regions: RegionList::EMPTY,
        })),
    );
    client.subscribe_described("robot").unwrap();
    while client.poll_transmit(now, &mut out).is_some() {}

    // The first byte picks the split size.
    let (step, rest) = data.split_first().map_or((1, data), |(s, r)| (*s as usize % 64 + 1, r));
    for piece in rest.chunks(step) {
        client.handle_input_with(now, piece, &mut build);
        while client.poll_transmit(now, &mut out).is_some() {}
        while client.poll_event().is_some() {}
    }
    if let Some(region) = build.made {
        let bytes: Vec<u8> = region
            .words()
            .iter()
            .flat_map(|w| w.load(core::sync::atomic::Ordering::Relaxed).to_le_bytes())
            .collect();
        memwire::RegionView::new_checked(&bytes).expect("a mirror keeps a valid layout");
    }
});
