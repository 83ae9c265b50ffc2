//! Lays out a region, writes a few variables, and shows what the bytes say.

use memwire::layout::{init, required_len};
use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
use memwire::{Region, RegionView};

static TELEMETRY: SchemaBuf<4> = SchemaBuilder::new()
    .var("uptime_ms", Kind::U64, 1)
    .var("position", Kind::F32, 3)
    .var("armed", Kind::Bool, 1)
    .writable()
    .var("label", Kind::Bytes, 8)
    .build();

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schema = TELEMETRY.as_schema();
    let len = required_len(&schema)?;
    let mut memory = vec![0u32; len / 4];
    init(bytemuck::cast_slice_mut(&mut memory), &schema, 0x5eed)?;
    println!(
        "region: {len} bytes, schema fingerprint {:#018x}",
        schema.fingerprint()
    );

    let region = Region::from_bytes(bytemuck::cast_slice_mut(&mut memory), schema)?;
    region.set_by_name("uptime_ms", 1_500u64)?;
    region.set_by_name("position", [1.0f32, 2.0, 0.5])?;
    region.set_by_name("label", *b"rover-01")?;
    region.write_many(&[
        (schema.find("armed").ok_or("armed")?, &[1]),
        (
            schema.find("uptime_ms").ok_or("uptime_ms")?,
            &1_600u64.to_le_bytes(),
        ),
    ])?;
    println!("generation after four commits: {}", region.generation()?);

    // Any copy of the bytes can be checked and read without knowing the schema.
    let view = RegionView::new_checked(bytemuck::cast_slice(&memory))?;
    for (i, var) in view.variables().enumerate() {
        let bytes = view
            .value_bytes(memwire::VarId(i as u32))
            .unwrap_or_default();
        println!(
            "  {:<10} {:>5}[{}] @ {:>2} {}  {:02x?}",
            var.name,
            var.kind,
            var.count,
            var.offset,
            if var.writable { "rw" } else { "ro" },
            bytes
        );
    }
    Ok(())
}
