//! Arbitrary bytes as a region file: validation never panics, and whatever
//! it accepts can be read through every accessor and opened live.
#![no_main]

use std::sync::atomic::AtomicU32;

use libfuzzer_sys::fuzz_target;
use memwire::schema::{VarId, Variable};
use memwire::{Region, RegionView};

fuzz_target!(|data: &[u8]| {
    let Ok(view) = RegionView::new_checked(data) else {
        return;
    };
    let _ = (
        view.fingerprint(),
        view.instance(),
        view.generation(),
        view.header(),
    );
    let mut vars = Vec::new();
    for (i, var) in view.variables().enumerate() {
        let id = VarId(i as u32);
        let bytes = view.value_bytes(id).expect("accepted variable has bytes");
        assert_eq!(bytes.len() as u64, var.len());
        assert_eq!(
            view.find(var.name.as_str()),
            Some(id),
            "name index finds {}",
            var.name
        );
        assert!(view.seq(id).is_some());
        vars.push(var);
    }
    assert_eq!(vars.len(), view.len());
    let mut copy = vec![vars.first().copied().unwrap_or(PLACEHOLDER); view.len()];
    let mut index = vec![0u32; view.len()];
    let schema = view
        .copy_schema(&mut copy, &mut index)
        .expect("accepted region copies its schema");

    // The same bytes as live words open against their own schema.
    let words: Vec<AtomicU32> = view
        .as_bytes()
        .chunks(4)
        .map(|w| {
            let mut b = [0u8; 4];
            b[..w.len()].copy_from_slice(w);
            AtomicU32::new(u32::from_le_bytes(b))
        })
        .collect();
    let region = Region::new_checked(&words, schema).expect("accepted bytes open live");
    let mut buf = vec![0u8; region.data_len()];
    let _ = region.snapshot(&mut buf);
    for (i, var) in schema.variables().iter().enumerate() {
        let mut out = vec![0u8; var.len() as usize];
        let _ = region.try_read(VarId(i as u32), &mut out);
    }
});

const PLACEHOLDER: Variable = Variable::new(
    match memwire::Name::new("x") {
        Ok(n) => n,
        Err(_) => panic!(),
    },
    memwire::Kind::U8,
    1,
    0,
);
