//! A region's writer as a user writes one: a `#[derive(Schema)]` struct
//! whose region it creates, for the tests of a hub that serves regions it
//! finds (`hub_adopt`).
//!
//! ```text
//! record-writer <root> <tenant/region> <temperature>   create the region, store one value, print "created <instance>", exit
//! ```
//!
//! Exit status 0 on success; 1 with the error printed when the region
//! cannot be created.

use std::process::ExitCode;

use bytemuck::{Pod, Zeroable};
use memwire::Schema;
use memwire_std::shm::{Root, ShmWriter};

/// What the tests' hub serves without a declared schema.
#[derive(Schema, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct Sensors {
    temperature: f32,
    #[memwire(writable)]
    setpoint: f32,
    history: [u16; 8],
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, path, temperature] = args.as_slice() else {
        eprintln!("usage: record-writer <root> <tenant/region> <temperature>");
        return ExitCode::from(2);
    };
    let temperature: f32 = temperature.parse().unwrap_or(0.0);
    let created = ShmWriter::<Sensors>::create_record(&Root::new(root), path).and_then(|writer| {
        writer.store(&Sensors {
            temperature,
            setpoint: 20.0,
            history: [1, 2, 3, 4, 5, 6, 7, 8],
        })?;
        Ok(writer.reader().instance())
    });
    match created {
        Ok(instance) => {
            println!("created {instance}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{e}");
            ExitCode::FAILURE
        }
    }
}
