use memwire_derive::Schema;

#[derive(Schema)]
#[repr(C)]
struct Unsupported {
    text: String,
    borrowed: &'static str,
    pair: (u8, u8),
    letter: char,
    size: usize,
    grid: [[u8; 2]; 2],
    list: Vec<u8>,
}

fn main() {}
