"""Creates region demo/robot and writes it ten times a second.

    python writer.py [commits]    # default: until Ctrl-C
"""

import sys
import time

import numpy as np

import memwire

SCHEMA = [
    ("speed", "f32", 1, False),
    ("ticks", "u64", 1, False),
    ("ranges", "f32", 8, False),
    ("target", "f32", 1, True),
]

commits = int(sys.argv[1]) if len(sys.argv) > 1 else None
with memwire.Writer.open_or_create("demo/robot", SCHEMA) as robot:
    tick = 0
    while commits is None or tick < commits:
        tick += 1
        generation = robot.set_many(
            {
                "speed": 0.5 * tick,
                "ticks": tick,
                "ranges": np.linspace(0.0, tick, 8, dtype=np.float32),
            }
        )
        print(f"generation {generation}: tick {tick}", flush=True)
        time.sleep(0.1)
