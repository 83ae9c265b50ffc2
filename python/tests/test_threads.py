"""Python threads reading while another writes never see a mixed array."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import List

import numpy as np

import memwire

WORDS = 512


def test_readers_never_see_a_mixed_array(root: Path) -> None:
    writer = memwire.Writer.create("lab/t", [("words", "u64", WORDS), ("tag", "u32")], root=root)
    region = memwire.Region.open("lab/t", root=root)
    stop = threading.Event()
    torn: List[str] = []
    distinct: List[int] = []

    def write() -> None:
        n = 1
        while not stop.is_set():
            writer.set_many({"words": np.full(WORDS, n, dtype=np.uint64), "tag": n & 0xFFFFFFFF})
            n += 1

    def read(use_snapshot: bool) -> None:
        seen = set()
        for _ in range(3000):
            if use_snapshot:
                both = region.read_many(["words", "tag"])
                words, tag = both["words"], both["tag"]
                if int(words[0]) & 0xFFFFFFFF != tag:
                    torn.append(f"tag {tag} with words {int(words[0])}")
            else:
                words = region.read("words")
            if not (words == words[0]).all():
                torn.append(f"mixed array starting {int(words[0])}")
            seen.add(int(words[0]))
        distinct.append(len(seen))

    threads = [threading.Thread(target=read, args=(i % 2 == 1,)) for i in range(4)]
    w = threading.Thread(target=write)
    w.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    w.join()
    writer.close()
    assert torn == []
    assert max(distinct) > 1, "the readers saw no write"
