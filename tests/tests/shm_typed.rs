//! A region typed by a `#[derive(Schema)]` struct.

mod shm_common;

use bytemuck::{Pod, Zeroable};
use memwire::Schema;
use memwire_std::shm::{ShmRegion, ShmWriter};
use shm_common::TempRoot;

#[derive(Schema, Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
struct Pose {
    stamp: u64,
    position: [f32; 3],
    heading: f32,
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
