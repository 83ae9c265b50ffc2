use memwire_derive::Schema;

#[derive(Schema)]
#[repr(C, packed)]
struct Packed {
    a: u8,
    b: u32,
}

fn main() {}
