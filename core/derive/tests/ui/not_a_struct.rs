use memwire_derive::Schema;

#[derive(Schema)]
#[repr(C)]
enum Mode {
    Idle,
    Run,
}

#[derive(Schema)]
#[repr(C)]
union Bits {
    a: u32,
    b: f32,
}

#[derive(Schema)]
#[repr(C)]
struct Tuple(u32, u32);

#[derive(Schema)]
#[repr(C)]
struct Unit;

fn main() {}
