"""Reads a recording of `memwire record` with the Python `mcap` package,
written by nobody here, following docs/recording.md only: every record of
the file, each channel's schema (JSON), and every message decoded into the
region's state; each NAME=VALUE given names an f32 variable and the value
it must end with.

Usage: python read_recording.py FILE.mcap [NAME=VALUE ...]
"""

import json
import struct
import sys

from mcap.reader import make_reader
from mcap.records import Channel, Footer, Header, Message, Schema
from mcap.stream_reader import StreamReader


def main(path: str, expected: list[str]) -> None:
    # Every record, in file order, with the stream reader (CRCs checked).
    kinds: dict[str, int] = {}
    with open(path, "rb") as f:
        for record in StreamReader(f, skip_magic=False).records:
            name = type(record).__name__
            kinds[name] = kinds.get(name, 0) + 1
    for needed in (Header, Schema, Channel, Message, Footer):
        assert kinds.get(needed.__name__, 0) > 0, f"no {needed.__name__} in {kinds}"

    with open(path, "rb") as f:
        reader = make_reader(f)
        header = reader.get_header()
        assert header.profile == "memwire", header.profile
        summary = reader.get_summary()
        assert summary is not None, "no summary section"
        layouts = {}
        for channel in summary.channels.values():
            schema = summary.schemas[channel.schema_id]
            assert schema.name == "memwire.region", schema.name
            assert schema.encoding == "memwire.layout+json", schema.encoding
            assert channel.message_encoding == "memwire.update", channel.message_encoding
            layout = json.loads(schema.data)
            assert layout["format"] == 1
            assert layout["variables"], "a schema with no variables"
            for var in layout["variables"]:
                assert {"name", "kind", "count", "offset"} <= var.keys(), var
            layouts[channel.topic] = layout

        states = {topic: bytearray(l["data_len"]) for topic, l in layouts.items()}
        counts = {topic: 0 for topic in layouts}
        last = {}
        for schema, channel, message in reader.iter_messages():
            data = message.data
            flags, generation, count = struct.unpack_from("<BQI", data, 0)
            assert flags & ~3 == 0, flags
            at = 13
            state = states[channel.topic]
            for _ in range(count):
                offset, length = struct.unpack_from("<II", data, at)
                at += 8
                assert offset + length <= len(state)
                state[offset : offset + length] = data[at : at + length]
                at += length
            assert at == len(data), "bytes after the last range"
            if flags & 1:
                assert count == 1 and len(data) == 13 + 8 + len(state)
            counts[channel.topic] += 1
            last[channel.topic] = generation
        statistics = summary.statistics
        assert statistics is not None, "no statistics record"
        assert statistics.message_count == sum(counts.values()), (statistics, counts)

    for topic, layout in layouts.items():
        values = {}
        for var in layout["variables"]:
            if var["kind"] == "f32" and var["count"] == 1:
                values[var["name"]] = struct.unpack_from("<f", states[topic], var["offset"])[0]
        print(f"{topic}: {counts[topic]} updates, last generation {last.get(topic)}, {values}")
        for item in expected:
            name, value = item.split("=")
            assert values[name] == float(value), (name, values[name], value)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
