use memwire_derive::Schema;

#[derive(Schema)]
#[repr(C)]
struct Tail {
    a: u64,
    b: u8,
}

fn main() {}
