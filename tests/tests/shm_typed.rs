//! A region typed by a `#[derive(Schema)]` struct.

mod shm_common;

use memwire::Schema;
use memwire::schema::Kind;
use memwire_std::shm::{ShmError, ShmRegion, ShmWriter};
use shm_common::TempRoot;

#[derive(Schema, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Pose {
    stamp: u64,
    position: [f32; 3],
    heading: f32,
}

/// A record with `bool` fields, which are not `bytemuck::Pod`.
#[derive(Schema, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Switches {
    count: u32,
    armed: bool,
    lamps: [bool; 3],
}

#[test]
fn typed_region_stores_and_loads_whole_records() {
    let root = TempRoot::new("typed");
    let writer = ShmWriter::<Pose>::create_record(&root.root, "robot/pose").unwrap();
    let reader = ShmRegion::<Pose>::open_record(&root.root, "robot/pose").unwrap();
    let mut watcher = reader.watch().unwrap();
    let pose = Pose {
        stamp: 42,
        position: [1.0, 2.0, 3.0],
        heading: 0.5,
    };
    let generation = writer.store(&pose).unwrap();
    assert_eq!(reader.load().unwrap(), pose);
    assert_eq!(reader.generation().unwrap(), generation);
    let event = watcher.poll().unwrap().unwrap();
    assert_eq!(
        event.names().collect::<Vec<_>>(),
        ["stamp", "position", "heading"]
    );
    // The untyped view of the same file agrees.
    let any = ShmRegion::open(&root.root, "robot/pose").unwrap();
    assert_eq!(any.get_by_name::<f32>("heading").unwrap(), 0.5);
    assert_eq!(any.fingerprint(), reader.fingerprint());
}

#[test]
fn a_bool_field_round_trips_and_a_stored_byte_other_than_0_or_1_is_an_error() {
    let root = TempRoot::new("typed-bool");
    let writer = ShmWriter::<Switches>::create_record(&root.root, "plant/switches").unwrap();
    let reader = ShmRegion::<Switches>::open_record(&root.root, "plant/switches").unwrap();
    let switches = Switches {
        count: 3,
        armed: true,
        lamps: [false, true, true],
    };
    writer.store(&switches).unwrap();
    assert_eq!(reader.load().unwrap(), switches);
    // Stored as the format's byte: an untyped reader sees the same values.
    let any = ShmRegion::open(&root.root, "plant/switches").unwrap();
    assert!(any.get_by_name::<bool>("armed").unwrap());
    assert_eq!(any.schema().lookup("lamps").unwrap().1.kind, Kind::Bool);

    // A program writing the region untyped stores 2 in a bool.
    let lamps = any.schema().find("lamps").unwrap();
    writer.write(lamps, &[0, 2, 1]).unwrap();
    match reader.load() {
        Err(ShmError::InvalidValue { variable, kind, .. }) => {
            assert_eq!((variable.as_str(), kind), ("lamps", Kind::Bool));
        }
        other => panic!("expected InvalidValue for lamps, got {other:?}"),
    }
    let message = reader.load().unwrap_err().to_string();
    assert!(
        message.ends_with("variable lamps does not hold a valid bool (a bool is the byte 0 or 1)"),
        "{message}"
    );
    // Storing a valid record over it repairs it.
    writer.store(&switches).unwrap();
    assert_eq!(reader.load().unwrap(), switches);
}

#[test]
fn open_or_create_record_opens_the_region_a_previous_run_left() {
    let root = TempRoot::new("typed-reopen");
    let switches = Switches {
        count: 9,
        armed: true,
        lamps: [true, false, true],
    };
    {
        let first = ShmWriter::<Switches>::open_or_create_record(&root.root, "plant/switches")
            .expect("the first run creates the region");
        first.store(&switches).unwrap();
    }
    // The second run opens the region with the values the first left.
    let second = ShmWriter::<Switches>::open_or_create_record(&root.root, "plant/switches")
        .expect("the second run opens the region");
    assert_eq!(second.load().unwrap(), switches);
    drop(second);

    // A record with another schema is refused, and the file is kept.
    assert!(matches!(
        ShmWriter::<Pose>::open_or_create_record(&root.root, "plant/switches"),
        Err(ShmError::SchemaMismatch { .. })
    ));
    let reader = ShmRegion::<Switches>::open_record(&root.root, "plant/switches").unwrap();
    assert_eq!(reader.load().unwrap(), switches);
}

#[test]
fn store_commits_only_the_variables_whose_bytes_changed() {
    let root = TempRoot::new("typed-changed");
    let writer = ShmWriter::<Switches>::create_record(&root.root, "plant/switches").unwrap();
    let mut switches = Switches {
        count: 1,
        armed: false,
        lamps: [true, false, false],
    };
    writer.store(&switches).unwrap();
    let mut watcher = writer.watch().unwrap();

    switches.count = 2;
    switches.lamps[2] = true;
    let generation = writer.store(&switches).unwrap();
    let event = watcher.poll().unwrap().expect("a commit");
    assert_eq!(event.generation(), generation);
    assert_eq!(event.names().collect::<Vec<_>>(), ["count", "lamps"]);
    // `armed` held false in every store, as the new file did: never written.
    assert_eq!(writer.seq(writer.schema().find("armed").unwrap()), Some(0));

    // Nothing changed: no commit, the generation stays.
    assert_eq!(writer.store(&switches).unwrap(), generation);
    assert_eq!(writer.generation().unwrap(), generation);
    assert!(watcher.poll().unwrap().is_none());
}
