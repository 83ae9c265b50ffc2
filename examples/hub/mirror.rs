//! A remote mirror of the `demo/heater` region that `hub-app` serves: it
//! writes a new setpoint through the hub and watches the temperature
//! follow until it gets there.
//!
//! `cargo run -p memwire-examples --bin remote-mirror [URL] [SETPOINT]`:
//! the hub at `URL`, else `$MEMWIRE_HUB`, else `tcp://127.0.0.1:7878`;
//! the setpoint 25 by default.

use std::error::Error;

use memwire_std::client::{Client, ClientOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .or_else(|| std::env::var("MEMWIRE_HUB").ok())
        .unwrap_or_else(|| "tcp://127.0.0.1:7878".into());
    let setpoint: f32 = match args.next() {
        Some(arg) => arg.parse()?,
        None => 25.0,
    };

    // The client name, tenant and secret the hub's configuration lists.
    let options = ClientOptions::new("demo", "demo", "memwire-demo-secret");
    let client = Client::connect(&url, options).await?;
    // Returns once the mirror holds a full copy; the hub sends the schema.
    let heater = client.subscribe("demo/heater").await?;
    let mut changes = heater.changes();
    println!(
        "mirroring demo/heater at generation {}",
        heater.generation()
    );

    // Answered once the hub has applied it, with the generation that holds it.
    let generation = heater.set("setpoint", setpoint).await?;
    println!("setpoint {setpoint:.1} written at generation {generation}");

    let mut temperature: f32 = heater.get("temperature")?;
    println!("temperature {temperature:.1}");
    while temperature != setpoint {
        // Updates coalesce: a slow reader skips to the latest state.
        let Some(event) = changes.next().await else {
            return Err("the hub ended the subscription".into());
        };
        temperature = heater.get("temperature")?;
        let names: Vec<&str> = event.names().collect();
        println!(
            "generation {}: {} changed; temperature {temperature:.1}",
            event.generation,
            names.join(", ")
        );
    }
    println!("reached the setpoint");
    client.close().await;
    Ok(())
}
