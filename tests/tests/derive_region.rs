//! A user's view: derive a schema from a struct, lay out a region for it,
//! write variables one by one, and read the whole struct back.

use bytemuck::{Pod, Zeroable};
use memwire::layout::{init, required_len};
use memwire::schema::Record;
use memwire::{Region, RegionView, Schema};

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
