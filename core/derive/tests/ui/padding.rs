use memwire_derive::Schema;

#[derive(Schema)]
#[repr(C)]
struct P {
    a: u8,
    b: u32,
}

fn main() {}
