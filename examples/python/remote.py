"""Mirrors demo/sensors from the hub of `memwire demo` (its simulated
sensor writes it 20 times a second), writes the setpoint and prints the
changes as they arrive.

    python remote.py [url] [events]
"""

import asyncio
import sys

import memwire

URL = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:7878"
EVENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 10


async def main() -> None:
    client = memwire.connect(URL, "demo", "demo", "memwire-demo-secret")
    sensors = client.subscribe("demo/sensors")
    print("temperature:", sensors.read("temperature"))
    generation = sensors.set("setpoint", 21.5)
    print("setpoint written at generation", generation)
    seen = 0
    async for change in sensors.changes():
        print(f"generation {change.generation}: {', '.join(change.names)}")
        seen += 1
        if seen == EVENTS:
            break
    client.close()


asyncio.run(main())
