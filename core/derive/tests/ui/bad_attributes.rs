use memwire_derive::Schema;

#[derive(Schema)]
#[repr(C)]
struct BadNames {
    #[memwire(name = "has space")]
    a: u32,
    #[memwire(name = "b")]
    c: u32,
    b: u32,
    température: u32,
    #[memwire(rename = "x")]
    d: u32,
    #[memwire(writable, writable)]
    e: u32,
}

#[derive(Schema)]
#[repr(C)]
#[memwire(rename_all = "snake_case")]
struct BadStructOption {
    a: u32,
}

fn main() {}
