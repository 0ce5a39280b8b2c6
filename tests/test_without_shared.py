"""The suite on a clone with no ../shared beside it: it passes, and says what it skipped and why."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The suites that read ../shared: the WeChat samples, the labelled eval set and its README.
NEEDING_SHARED = (
    "tests/bot/test_conformance.py",
    "tests/bot/test_cli_parse.py",
    "tests/handlers/test_parser.py",
    "tests/demo/test_town.py",
)


def test_a_clone_without_shared_passes_and_lists_what_it_skipped(tmp_path: Path) -> None:
    clone = tmp_path / "alone" / "grievance-bot"  # nothing called shared beside it
    ignore = shutil.ignore_patterns(".venv", "instance", "__pycache__", ".*_cache", ".git")
    shutil.copytree(ROOT, clone, ignore=ignore)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIEVANCE_")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *NEEDING_SHARED],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    [line] = [line for line in run.stdout.splitlines() if line.startswith("skipped for lack of")]
    assert str(tmp_path / "alone" / "shared") in line
    for suite in ("test_conformance.py", "test_cli_parse.py", "test_parser.py", "test_town.py"):
        assert suite in line
    assert "wechat-samples" in line and "eval/grievances-dev.jsonl" in line
