"""`grievance-bot roster import` of a county-sized sheet: seconds and peak memory.

Generates a ROWS-row roster in the town's format (the headers of `grievance-bot roster template`,
filled as the demo town's export is: leaders, the dispatcher, 站所, 包村干部, then per village its
cadre, 片长, 组长 and 邻长, each with a 上级 given by phone), as .xlsx and as .csv, then imports
each into a fresh SQLite database (or PostgreSQL with --pg) through the CLI in its own process
and prints the wall time and the process's peak resident memory (from wait4's rusage). A run
past --timeout is stopped and reported. With --again the same file is imported a second time
(a re-import changes nothing).

    .venv/bin/python bench/roster_import_bench.py [--rows 200000] [--formats xlsx,csv]
        [--timeout 300] [--again] [--pg postgresql://postgres@127.0.0.1:5432/test_f_roster]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models import sheets, texts  # noqa: E402
from models.roster import HEADERS  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "建国红军志强秀英桂兰春华德明海燕玉梅文斌新民金花国平小军丽娟永福长生爱华冬梅光荣"
SYLLABLES = "大小栗山河金牛双合马鞭溪松木桥九湖黄道仑张家童子安宁毛羊坪朱刘德茂园杨嘴石竹"
UNITS = ["水利站", "供电所", "司法所", "派出所", "卫生院", "中心学校", "社会事务办", "交通管理站"]
TOWN = "资江镇"
COUNTY = "资江县"
ZONES = 20
VILLAGES_PER_ZONE = 20
GROUPS_PER_VILLAGE = 25


def roster_rows(count: int, seed: int) -> Iterator[list[str]]:
    """`count` rows in HEADERS order: the office first, then the villages, 邻长 filling the rest."""
    rng = random.Random(seed)
    phones = iter(range(10**8, 10**9))

    def phone() -> str:
        return f"13{next(phones):09d}"

    def name() -> str:
        return rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))

    def row(**fields: str) -> list[str]:
        return [fields.get(key, "") for key in HEADERS]

    emitted = 0
    leader = phone()
    yield row(name=name(), phone=leader, roles="领导", title="党委书记")
    yield row(name=name(), phone=phone(), roles="调度员", supervisor=leader)
    emitted += 2
    for unit in UNITS:
        head = phone()
        yield row(name=name(), phone=head, roles="站所负责人", unit=unit, supervisor=leader)
        for _ in range(3):
            yield row(name=name(), phone=phone(), roles="站所成员", unit=unit, supervisor=head)
        emitted += 4
    villages: list[tuple[str, str]] = []
    seen: set[str] = set()
    for z in range(ZONES):
        zone = f"{SYLLABLES[z % len(SYLLABLES)]}{SYLLABLES[(z * 7 + 3) % len(SYLLABLES)]}片"
        for _ in range(VILLAGES_PER_ZONE):
            while True:
                village = "".join(rng.sample(SYLLABLES, 2)) + "村"
                if village not in seen:
                    seen.add(village)
                    break
            villages.append((zone, village))
    for i in range(0, len(villages), 10):
        covers = "、".join(v for _, v in villages[i : i + 10])
        yield row(name=name(), phone=phone(), roles="包村干部", covers=covers, supervisor=leader)
        emitted += 1
    per_village = (count - emitted) // len(villages)
    extra = (count - emitted) % len(villages)
    for index, (zone, village) in enumerate(villages):
        budget = per_village + (1 if index < extra else 0)
        cadre = phone()
        yield row(
            name=name(),
            phone=cadre,
            roles="村干部",
            title="村支书兼主任",
            zone=zone,
            village=village,
            covers=village,
            supervisor=leader,
        )
        zone_head = phone()
        yield row(
            name=name(), phone=zone_head, roles="片长", zone=zone, village=village, supervisor=cadre
        )
        budget -= 2
        group_heads = []
        for group in range(1, GROUPS_PER_VILLAGE + 1):
            if budget <= 0:
                break
            head = phone()
            group_heads.append((group, head))
            yield row(
                name=name(),
                phone=head,
                roles="组长",
                zone=zone,
                village=village,
                group=str(group),
                supervisor=zone_head,
            )
            budget -= 1
        for n in range(budget):
            group, head = group_heads[n % len(group_heads)]
            yield row(
                name=name(),
                phone=phone(),
                roles="邻长",
                zone=zone,
                village=village,
                group=str(group),
                supervisor=head,
            )


def write_csv(path: Path, rows: Iterator[list[str]]) -> None:
    sheets.write_csv(path, list(HEADERS.values()), rows)


def write_xlsx(path: Path, rows: Iterator[list[str]]) -> None:
    book = sheets.XlsxBook()
    sheet = book.sheet(texts.ROSTER_SHEET)
    sheet.header(list(HEADERS.values()))
    for r in rows:
        sheet.row(r)
    book.save(path)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIEVANCE_")}
    env.update(GRIEVANCE_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def reset_pg(url: str) -> None:
    from sqlalchemy import text

    from models.db import make_engine

    engine = make_engine(url)
    name = engine.url.database
    admin = make_engine(engine.url.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if found.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def run_import(path: Path, env: dict[str, str], timeout: int) -> str:
    """One `roster import` in its own process: "N s, peak RSS M MB" and its last output line."""
    cmd = [sys.executable, "-m", "bot.cli", "roster", "import", str(path), "--town", TOWN]
    cmd += ["--county", COUNTY]
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        timed_out = not timer.is_alive()
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().decode("utf-8", "replace").strip().splitlines()
    rss = usage.ru_maxrss / 1024  # kilobytes on Linux
    if timed_out:
        return f"did not finish in {timeout} s (peak RSS {rss:,.0f} MB when stopped)"
    last = lines[-1] if lines else ""
    status_note = "" if proc.returncode == 0 else f" (exit {proc.returncode})"
    return f"{elapsed:7.1f} s, peak RSS {rss:,.0f} MB{status_note}\n      {last}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--formats", default="xlsx,csv")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per import")
    parser.add_argument("--again", action="store_true", help="import each file a second time")
    parser.add_argument("--pg", help="import into this PostgreSQL database instead of SQLite")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="grievance-roster-"))
    print(
        f"machine: {os.cpu_count()} cores; {args.rows:,} rows: {ZONES * VILLAGES_PER_ZONE} "
        f"villages of up to {GROUPS_PER_VILLAGE} groups; into "
        f"{'PostgreSQL' if args.pg else 'a fresh SQLite file'}; timeout {args.timeout} s",
        flush=True,
    )
    for fmt in args.formats.split(","):
        path = workdir / f"roster.{fmt}"
        started = time.perf_counter()
        (write_xlsx if fmt == "xlsx" else write_csv)(path, roster_rows(args.rows, args.seed))
        size = path.stat().st_size / 2**20
        print(
            f"{fmt}: wrote {path.name} ({size:.1f} MB) in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        instance = workdir / f"instance-{fmt}"
        env = clean_env(GRIEVANCE_INSTANCE_PATH=str(instance))
        if args.pg:
            reset_pg(args.pg)
            env["GRIEVANCE_DATABASE_URL"] = args.pg
        subprocess.run(
            [sys.executable, "-m", "bot.cli", "db", "upgrade"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=ROOT,
        )
        print(f"  first import  {run_import(path, env, args.timeout)}", flush=True)
        if args.again:
            print(f"  re-import     {run_import(path, env, args.timeout)}", flush=True)
        path.unlink()


if __name__ == "__main__":
    main()
