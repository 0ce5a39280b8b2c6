"""Measure the grievance parser on labelled messages: per-field accuracy, urgency and
grievance precision/recall, the ask-back rate and the median time per message.

Run from the project root::

    .venv/bin/python bench/parser_eval.py              # the dev set (../shared/eval)
    .venv/bin/python bench/parser_eval.py --tuning     # + the tuning files in tests/handlers
    .venv/bin/python bench/parser_eval.py --heldout    # + the held-out set (aggregates only)
    .venv/bin/python bench/parser_eval.py --curve      # + the classifier's learning curve

Only aggregate figures are printed, never a message: the held-out set must stay unseen. The
learning curve trains the character n-gram classifier of ``grievance-bot learn`` on 50, 100, 200
and 500 tickets of the demo season (made through the CLI, ``grievance-bot demo scenario``) and
scores it, and the rules, on the dev set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.taxonomy import load_taxonomy  # noqa: E402  (needs the path set above)
from handlers.parser import GrievanceParser, ParseResult  # noqa: E402

DEV_FILE = ROOT.parent / "shared" / "eval" / "grievances-dev.jsonl"
TESTS = ROOT / "tests" / "handlers"
TUNING_FILES = (
    TESTS / "parser_heldout.jsonl",
    TESTS / "parser_fresh_a.jsonl",
    TESTS / "parser_fresh_b.jsonl",
    TESTS / "parser_fresh_c.jsonl",
)
HELDOUT_FILE = TESTS / "parser_heldout_2.jsonl"
FIELDS = ("is_grievance", "category", "village", "group", "urgent", "households")
CURVE_SIZES = (50, 100, 200, 500)


def villages() -> list[str]:
    """The demo town's villages, as the labels spell them."""
    town = tomllib.loads((ROOT / "config" / "demo_town.toml").read_text(encoding="utf-8"))
    return [village["name"] for zone in town["zones"] for village in zone["villages"]]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The labelled rows of one JSON-lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _ratio(hit: int, total: int) -> float:
    return hit / total if total else float("nan")


def evaluate(parser: GrievanceParser, rows: list[dict[str, Any]]) -> dict[str, float]:
    """Aggregate figures of the parser on labelled rows (no row is reported on its own)."""
    right = dict.fromkeys(FIELDS, 0)
    all_right = 0
    tp = {"urgent": 0, "is_grievance": 0}
    fp = {"urgent": 0, "is_grievance": 0}
    fn = {"urgent": 0, "is_grievance": 0}
    asked = 0
    left = 0  # unsure, with nothing to offer: left for the dispatcher
    wrong_sure = 0  # a wrong category or village the parser was sure of: a confident wrong route
    timings: list[float] = []
    for row in rows:
        begin = time.perf_counter()
        result = parser.parse(row["text"], row["reporter_village"], row["reporter_group"])
        timings.append(time.perf_counter() - begin)
        got = _fields(result)
        ok = True
        for field in FIELDS:
            if got[field] == row[field]:
                right[field] += 1
            else:
                ok = False
        all_right += ok
        for field in tp:
            if got[field] and row[field]:
                tp[field] += 1
            elif got[field]:
                fp[field] += 1
            elif row[field]:
                fn[field] += 1
        unsure = set(getattr(result, "unsure_fields", ())) | (
            {"is_grievance"} if result.unsure else set()
        )
        asked += bool(unsure)
        for field in ("category", "village"):
            if got[field] != row[field] and field not in unsure and row["is_grievance"]:
                wrong_sure += 1
                break
    n = len(rows)
    figures = {field: right[field] / n for field in FIELDS}
    figures["all fields"] = all_right / n
    for field in tp:
        figures[f"{field} precision"] = _ratio(tp[field], tp[field] + fp[field])
        figures[f"{field} recall"] = _ratio(tp[field], tp[field] + fn[field])
    figures["ask-back rate"] = asked / n
    figures["left to dispatcher"] = left / n
    figures["sure but wrong route"] = wrong_sure / n
    figures["median µs"] = statistics.median(timings) * 1e6
    return figures


def _fields(result: ParseResult) -> dict[str, Any]:
    return {
        "is_grievance": result.is_grievance,
        "category": result.category,
        "village": result.village,
        "group": result.group,
        "urgent": result.urgent,
        "households": result.households,
    }


def print_figures(name: str, n: int, figures: dict[str, float]) -> None:
    """One block of figures."""
    print(f"== {name} ({n} messages)")
    for key, value in figures.items():
        if key == "median µs":
            print(f"  {key:24s} {value:7.0f}")
        else:
            print(f"  {key:24s} {value:7.3f}")


def median_time(parser: GrievanceParser, rows: list[dict[str, Any]], passes: int) -> float:
    """Median seconds per message over several passes (the first pass warms the caches)."""
    timings: list[float] = []
    for _ in range(passes):
        for row in rows:
            begin = time.perf_counter()
            parser.parse(row["text"], row["reporter_village"], row["reporter_group"])
            timings.append(time.perf_counter() - begin)
    return statistics.median(timings)


# ---------------------------------------------------------------------- learning curve


def demo_tickets(workdir: Path) -> list[Any]:
    """The labelled tickets of a demo season (every one whose category stood), via the CLI."""
    database = workdir / "curve.db"
    env = {
        **os.environ,
        "GRIEVANCE_DATABASE_URL": f"sqlite:///{database}",
        "GRIEVANCE_INSTANCE_PATH": str(workdir),
    }
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "scenario", "--months", "12"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    from sqlmodel import Session, create_engine

    from models.labels import labelled_tickets

    engine = create_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        examples = labelled_tickets(session, load_taxonomy(), include_resolved=True)
    engine.dispose()
    return examples


def learning_curve(parser: GrievanceParser, dev: list[dict[str, Any]]) -> None:
    """Category accuracy of the classifier trained on more and more demo tickets, on dev."""
    from handlers.classifier import train

    grievances = [row for row in dev if row["is_grievance"]]

    def score(row: dict[str, Any], model: Any = None) -> bool:
        result = parser.parse(row["text"], row["reporter_village"], row["reporter_group"])
        if model is not None and "category" in result.unsure_fields:
            result = model.second_opinion(row["text"], result)
        return result.category == row["category"]

    rules = sum(score(row) for row in grievances) / len(grievances)
    with tempfile.TemporaryDirectory() as tmp:
        pool = demo_tickets(Path(tmp))
    print(f"== learning curve: category on the {len(grievances)} dev grievances")
    print(f"  demo season: {len(pool)} labelled tickets; rules alone {rules:.3f}")
    for size in CURVE_SIZES:
        if size > len(pool):
            break
        began = time.perf_counter()
        model = train(pool[:size], parser=parser)
        seconds = time.perf_counter() - began
        alone = sum(model.predict(r["text"])[0][0] == r["category"] for r in grievances)
        trusted = model if model.beats_rules else None
        verdict = "used" if trusted else "not used"
        combined = sum(score(row, trusted) for row in grievances)
        print(
            f"  {size:4d} tickets: model alone {alone / len(grievances):.3f}"
            f"  cv {model.cv_accuracy:.3f} vs rules {model.rules_accuracy:.3f} on the same rows"
            f"  -> {verdict}, rules+model {combined / len(grievances):.3f}"
            f"  ({seconds:.1f} s to train)"
        )


def main(argv: Iterable[str] | None = None) -> None:
    """Print the figures the options ask for."""
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--tuning", action="store_true", help="also the tuning files")
    options.add_argument("--heldout", action="store_true", help="also the held-out set")
    options.add_argument("--curve", action="store_true", help="also the learning curve")
    options.add_argument("--passes", type=int, default=5, help="passes for the median time")
    args = options.parse_args(list(argv) if argv is not None else None)

    parser = GrievanceParser(load_taxonomy(), villages())
    dev = read_rows(DEV_FILE)
    sets: list[tuple[str, list[dict[str, Any]]]] = [("dev", dev)]
    if args.tuning:
        for path in TUNING_FILES:
            sets.append((path.name, read_rows(path)))
    if args.heldout:
        sets.append((HELDOUT_FILE.name, read_rows(HELDOUT_FILE)))
    for name, rows in sets:
        figures = evaluate(parser, rows)
        figures["median µs"] = median_time(parser, rows, args.passes) * 1e6
        print_figures(name, len(rows), figures)
    if args.curve:
        learning_curve(parser, dev)


if __name__ == "__main__":
    main()
