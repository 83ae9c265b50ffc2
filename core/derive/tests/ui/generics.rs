use memwire_derive::Schema;

#[derive(Schema)]
#[repr(C)]
struct Generic<T> {
    a: T,
}

#[derive(Schema)]
#[repr(C)]
struct Sized<const N: usize> {
    a: [u8; N],
}

fn main() {}
