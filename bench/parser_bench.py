"""Benchmark the grievance parser: load time, then median and p99 time per message.

Run from the project root: ``.venv/bin/python bench/parser_bench.py [--passes 20]``.
The messages are the labelled dev set in ../shared/eval (read at run time, never copied);
without it the held-out set in tests/handlers is used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.taxonomy import load_taxonomy  # noqa: E402  (needs the path set above)
from handlers.parser import GrievanceParser  # noqa: E402

DEV_FILE = ROOT.parent / "shared" / "eval" / "grievances-dev.jsonl"
HELDOUT_FILE = ROOT / "tests" / "handlers" / "parser_heldout.jsonl"


def main() -> None:
    """Time parser construction and per-message parsing; print the figures."""
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--passes", type=int, default=20, help="times over the message set")
    args = options.parse_args()

    source = DEV_FILE if DEV_FILE.exists() else HELDOUT_FILE
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line]
    town = tomllib.loads((ROOT / "config" / "demo_town.toml").read_text(encoding="utf-8"))
    villages = [village["name"] for zone in town["zones"] for village in zone["villages"]]

    started = time.perf_counter()
    parser = GrievanceParser(load_taxonomy(), villages)
    load_seconds = time.perf_counter() - started

    timings: list[float] = []
    for _ in range(args.passes):
        for row in rows:
            begin = time.perf_counter()
            parser.parse(row["text"], row["reporter_village"], row["reporter_group"])
            timings.append(time.perf_counter() - begin)
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"messages: {len(rows)} from {source.name}, passes: {args.passes}")
    print(f"load: {load_seconds * 1000:.0f} ms")
    print(f"median: {statistics.median(timings) * 1e6:.0f} µs per message")
    print(f"p99: {p99 * 1e6:.0f} µs per message")
    print(f"max: {timings[-1] * 1e6:.0f} µs per message")


if __name__ == "__main__":
    main()
