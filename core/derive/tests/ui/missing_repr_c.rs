use memwire_derive::Schema;

#[derive(Schema)]
struct NoRepr {
    a: u32,
}

#[derive(Schema)]
#[repr(transparent)]
struct Transparent {
    a: u32,
}

fn main() {}
