use memwire_derive::Schema;

#[derive(Clone, Copy)]
struct Celsius(f32);

type Wide = u128;

#[derive(Schema)]
#[repr(C)]
struct Custom {
    temperature: Celsius,
    wide: Wide,
}

fn main() {}
