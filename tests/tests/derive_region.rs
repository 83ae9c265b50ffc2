//! A user's view: derive a schema from a struct, lay out a region for it,
//! write variables one by one, and read the whole struct back.

use bytemuck::{Pod, Zeroable};
use memwire::codec::{MIN_FRAME, WRITE_OVERHEAD};
use memwire::layout::{init, required_len, sections};
use memwire::schema::{Record, RecordError};
use memwire::session::OwnRegion;
use memwire::{Region, RegionView, Schema, VarId};

#[derive(Schema, Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
struct Telemetry {
    uptime_ms: u64,
    position: [f32; 3],
    #[memwire(writable)]
    setpoint: f32,
    mode: u32,
    #[memwire(name = "error.count")]
    errors: u16,
    flags: [u8; 2],
}

#[test]
fn derived_struct_lays_out_and_reads_back_whole() {
    let schema = Telemetry::schema();
    assert_eq!(schema.data_len() as usize, size_of::<Telemetry>());
    let mut memory = vec![0u32; required_len(&schema).unwrap() / 4];
    init(bytemuck::cast_slice_mut(&mut memory), &schema, 7).unwrap();
    let region = Region::from_bytes(bytemuck::cast_slice_mut(&mut memory), schema).unwrap();

    region.set_by_name("uptime_ms", 99u64).unwrap();
    region.set_by_name("position", [1.0f32, -2.0, 3.5]).unwrap();
    region.set_by_name("setpoint", 21.5f32).unwrap();
    region.set_by_name("mode", 3u32).unwrap();
    region.set_by_name("error.count", 2u16).unwrap();
    let generation = region.set_by_name("flags", [1u8, 1]).unwrap();

    let mut data = vec![0u8; region.data_len()];
    assert_eq!(region.snapshot(&mut data), Ok(generation));
    let whole: Telemetry = bytemuck::pod_read_unaligned(&data[..size_of::<Telemetry>()]);
    assert_eq!(
        whole,
        Telemetry {
            uptime_ms: 99,
            position: [1.0, -2.0, 3.5],
            setpoint: 21.5,
            mode: 3,
            errors: 2,
            flags: [1, 1],
        }
    );

    // A tool that does not know the struct sees the same variables.
    let view = RegionView::new_checked(bytemuck::cast_slice(&memory)).unwrap();
    assert_eq!(view.fingerprint(), Telemetry::schema().fingerprint());
    let names: Vec<String> = view.variables().map(|v| v.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "uptime_ms",
            "position",
            "setpoint",
            "mode",
            "error.count",
            "flags"
        ]
    );
    let setpoint = view.variable(view.find("setpoint").unwrap()).unwrap();
    assert!(setpoint.writable);
}

/// A device's telemetry: a writable array larger than a frame's minimum,
/// and `bool` fields.
#[derive(Schema, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Device {
    uptime_ms: u32,
    #[memwire(writable)]
    curve: [f32; 40],
    #[memwire(writable)]
    enabled: bool,
    alarms: [bool; 3],
    samples: [i16; 500],
}

#[test]
fn derived_constants_are_what_the_layout_computes() {
    let schema = Device::schema();
    let layout = sections(&schema).unwrap();
    assert_eq!(Device::REGION_LEN, required_len(&schema).unwrap());
    assert_eq!(Device::REGION_WORDS * 4, Device::REGION_LEN);
    assert_eq!(Device::DATA_LEN, layout.data_len as usize);
    assert_eq!(Device::TABLE_LEN, OwnRegion::table_len(Device::DATA_LEN));
    assert_eq!(Device::WRITE_LEN, 160);
    assert_eq!(Device::FRAME_LEN, 160 + WRITE_OVERHEAD);
    // Without writable variables a frame needs only the protocol's minimum.
    assert_eq!(Telemetry::WRITE_LEN, 4);
    assert_eq!(Telemetry::FRAME_LEN, MIN_FRAME as usize);

    // The constants size memory in a `const` context, as a device's
    // statics do, and a region fits them exactly.
    static MEMORY: [memwire::sync::AtomicU32; Device::REGION_WORDS] =
        [const { memwire::sync::AtomicU32::new(0) }; Device::REGION_WORDS];
    let region = Region::init(&MEMORY, schema, 3).unwrap();
    assert_eq!(region.data_len(), Device::DATA_LEN);
    let shadow = &mut [0u8; Device::DATA_LEN];
    let scratch = &mut [0u8; Device::DATA_LEN];
    let table = &mut [0u64; Device::TABLE_LEN];
    OwnRegion::new("device", region, shadow, scratch, table).unwrap();
}

#[test]
fn a_record_with_bools_encodes_field_by_field_and_checks_what_it_decodes() {
    let device = Device {
        uptime_ms: 7,
        curve: [0.5; 40],
        enabled: true,
        alarms: [false, true, false],
        samples: [-3; 500],
    };
    let mut data = vec![0u8; Device::DATA_LEN];
    device.encode(&mut data).unwrap();
    let enabled = Device::schema().lookup("enabled").unwrap().1.offset as usize;
    assert_eq!(data[enabled..enabled + 4], [1, 0, 1, 0]);
    assert_eq!(Device::decode(&data), Ok(device));

    data[enabled + 2] = 7;
    let alarms = Device::schema().find("alarms").unwrap();
    assert_eq!(
        Device::decode(&data),
        Err(RecordError::InvalidValue { variable: alarms })
    );
    assert_eq!(alarms, VarId(3));
    assert_eq!(Device::decode(&data[..enabled]), Err(RecordError::TooShort));
    assert_eq!(device.encode(&mut [0u8; 8]), Err(RecordError::TooShort));
}
