"""Waits for changes of region demo/robot and prints what changed.

    python reader.py [events]    # default: until Ctrl-C
"""

import sys

import memwire

events = int(sys.argv[1]) if len(sys.argv) > 1 else None
robot = memwire.Region.open("demo/robot")
watcher = robot.watch()
print("now:", robot.snapshot())
seen = 0
while events is None or seen < events:
    change = watcher.wait(timeout=2.0)  # blocks without holding the GIL
    if change is None:
        print("no change for 2 s")
        continue
    seen += 1
    values = robot.read_many(change.names)  # one consistent moment
    print(f"generation {change.generation}: {values}", flush=True)
