"""Reports per second of the real server against a bare Flask endpoint on the same WSGI server.

Starts the bot (`grievance-bot serve` on SQLite in a temporary instance; on PostgreSQL PROCESSES
web processes), binds REPORTERS 邻长 of the demo town through the webhook, signs safe-mode
reports ahead of time (each with its own MsgId, so every request makes a ticket and the client
does no crypto) and replays them with wrk at CONNECTIONS connections. Then does the same against a
bare Flask app answering "success" to POST /wechat, served by waitress with the same threads (and
processes), and prints req/s, p50 and p99 of both and their ratio. Last, one in-process run counts
the SQL statements and CPU time of one report (a before_cursor_execute counter and
time.process_time), beside the CPU time of the bare endpoint.

On PostgreSQL the web runs as in production: gunicorn with PROCESSES worker processes of THREADS
threads each (`bot.wsgi:app`), one `grievance-bot worker` beside them delivering the outbox and
running the jobs; the bare app runs under the same gunicorn settings.

    .venv/bin/python bench/load_bench.py [--duration 20] [--connections 16] [--threads 16]
        [--processes 1,4] [--pg postgresql://postgres@127.0.0.1:5432/test_f_load] [--no-pg]
        [--no-sqlite] [--port 8600] [--reports 300] [--profile]

wrk is installed with apt-get when missing.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.phone import Phone, message_xml, text_fields  # noqa: E402
from config.settings import Settings  # noqa: E402
from demo.phrasebook import ASKS, OPENERS, PROBLEMS, SINCE, chinese_numeral  # noqa: E402

# wrk replays the lines of a file "path?query<TAB>body", each thread its own share of them.
WRK_SCRIPT = r"""
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  local path, threads = args[1], tonumber(args[2])
  local headers = {["Content-Type"] = "text/xml"}
  queue = {}
  local index = 0
  for line in io.lines(path) do
    if index % threads == id then
      local tab = line:find("\t", 1, true)
      queue[#queue + 1] = wrk.format("POST", line:sub(1, tab - 1), headers, line:sub(tab + 1))
    end
    index = index + 1
  end
  position = 0
end
function request()
  position = position + 1
  if position > #queue then position = 1 end
  return queue[position]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK {\"requests\": %d, \"seconds\": %f, \"p50_ms\": %f, \"p99_ms\": %f, \"max_ms\": %f, " ..
    "\"connect\": %d, \"read\": %d, \"write\": %d, \"status\": %d, \"timeout\": %d}\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def bare_app() -> Any:
    """The floor: Flask answering "success" to a POST, as the bot does to a message it ignores."""
    from flask import Flask, Response, request

    app = Flask("bare")

    @app.post("/wechat")
    def wechat() -> Response:
        request.get_data(cache=False)
        return Response("success", mimetype="text/plain")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok", mimetype="text/plain")

    return app


def ensure_wrk() -> str:
    """The wrk binary, installed with apt-get when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: apt-get install -y wrk", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, **quiet).returncode:
        subprocess.run(["apt-get", "update"], check=False, **quiet)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, **quiet)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIEVANCE_")}
    env.update(GRIEVANCE_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def reuseport_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    return sock


def serve_child(port: int, threads: int) -> None:
    """The bare app on waitress, beside `serve` on SQLite."""
    from waitress import serve

    app = bare_app()
    sock = reuseport_socket(port)
    ready = os.environ.get("BENCH_READY_DIR")
    if ready:  # built (parser warmed up) and listening
        Path(ready, str(os.getpid())).touch()
    serve(app, sockets=[sock], threads=threads, ident="grievance-bot")


@contextmanager
def servers(commands: list[list[str]], env: dict[str, str], url: str, log: Path) -> Iterator[None]:
    """Start the processes (their output to `log`), wait for /healthz, stop them afterwards."""
    out = log.open("ab")
    ready = Path(tempfile.mkdtemp(prefix="ready-", dir=log.parent))
    env = {**env, "BENCH_READY_DIR": str(ready)}
    children = sum(1 for cmd in commands if "--serve-child" in cmd)
    procs = [
        subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        for cmd in commands
    ]
    try:
        deadline = time.time() + 60
        while True:
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a server process exited: {commands}; see {log}")
            try:
                up = requests.get(url + "/healthz", timeout=0.5).status_code == 200
            except requests.RequestException:
                up = False
            if up and len(list(ready.iterdir())) >= children:
                break
            if time.time() > deadline:
                raise SystemExit("server did not start within 60 s")
            time.sleep(0.1)
        # gunicorn's other worker processes may still be building their apps.
        time.sleep(3 if any("gunicorn" in cmd[0] for cmd in commands) else 0.5)
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        out.close()


def neighbour_heads(url: str, count: int) -> list[tuple[str, str, str, int]]:
    """(name, phone, village, group) of `count` 邻长 of the demo town, spread over its villages."""
    from sqlmodel import Session, col, select

    from models.db import make_engine
    from models.person import Person, PersonRole, Role
    from models.place import Place

    engine = make_engine(url)
    with Session(engine) as session:
        stmt = (
            select(Person.name, Person.phone, Place.number, Place.parent_id)
            .join(PersonRole, col(PersonRole.person_id) == Person.id)
            .join(Place, col(Place.id) == Person.place_id)
            .where(PersonRole.role == Role.neighbour_head.value)
            .order_by(col(Person.id))
        )
        rows = list(session.exec(stmt))
        villages = {p.id: p.name for p in session.exec(select(Place))}
    engine.dispose()
    step = max(1, len(rows) // count)
    return [(n, ph, villages.get(parent, ""), num or 1) for n, ph, num, parent in rows[::step]][
        :count
    ]


def problem_texts(reporters: list[tuple[str, str, str, int]], count: int, seed: int) -> list[str]:
    """`count` reports as 邻长 write them, from the demo scenario's problems."""
    rng = random.Random(seed)
    problems = [p for entries in PROBLEMS.values() for p, _ in entries]
    out = []
    for i in range(count):
        name, _, _, group = reporters[i % len(reporters)]
        opener = rng.choice(OPENERS).format(group_cn=chinese_numeral(group), name=name)
        at = rng.choice(("我们组", f"{group}组", "我们这里"))
        text = opener + rng.choice(problems).format(at=at)
        if rng.random() < 0.3:
            text += rng.choice(SINCE)
        if rng.random() < 0.5:
            text += rng.choice(ASKS)
        out.append(text)
    return out


def openid(n: int) -> str:
    return f"oBench{n:06d}wxopenid"


def bind(phone: Phone, url: str, reporters: list[tuple[str, str, str, int]]) -> None:
    """Each reporter binds once through the webhook, as on a phone."""
    session = requests.Session()
    for n, (name, number, _, _) in enumerate(reporters):
        signed = phone.sign(message_xml(text_fields(openid(n), f"绑定 {name} {number}")))
        response = session.post(url + "/wechat", params=signed.query, data=signed.body, timeout=30)
        response.raise_for_status()


def presign(phone: Phone, texts: list[str], reporters: int, path: Path) -> None:
    """One line per request: path?query TAB body; reporter n sends texts n, n+R, n+2R…"""
    with path.open("w", encoding="utf-8") as out:
        for i, text in enumerate(texts):
            signed = phone.sign(message_xml(text_fields(openid(i % reporters), text)))
            query = "&".join(f"{k}={v}" for k, v in signed.query.items())
            out.write(f"/wechat?{query}\t{signed.body.decode()}\n")


def run_wrk(wrk: str, url: str, bodies: Path, args: argparse.Namespace, seconds: int) -> dict:
    script = bodies.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    cmd = [wrk, f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{seconds}s"]
    cmd += ["--timeout", "10s", "-s", str(script), url, "--", str(bodies), str(args.wrk_threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        if line.startswith("WRK "):
            result: dict = json.loads(line[4:])
            result["rps"] = result["requests"] / result["seconds"]
            result["errors"] = sum(
                result[k] for k in ("connect", "read", "write", "status", "timeout")
            )
            return result
    raise SystemExit(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")


def ticket_count(url: str) -> int:
    from sqlalchemy import text

    from models.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(text("SELECT count(*) FROM ticket")).scalar_one())
    engine.dispose()
    return count


def settled_ticket_count(url: str) -> int:
    """The ticket count once the requests still in the server when wrk stopped are done."""
    count = ticket_count(url)
    while True:
        time.sleep(0.5)
        again = ticket_count(url)
        if again == count:
            return count
        count = again


def line(label: str, r: dict, extra: str = "") -> str:
    errors = f", {r['errors']} errors" if r["errors"] else ""
    return (
        f"  {label:26s} {r['rps']:8.0f} req/s   p50 {r['p50_ms']:7.1f} ms   "
        f"p99 {r['p99_ms']:7.1f} ms   ({r['requests']} requests{errors}){extra}"
    )


def measure(
    label: str,
    wrk: str,
    args: argparse.Namespace,
    workdir: Path,
    settings: Settings,
    db_url: str,
    bot_commands: list[list[str]],
    bare_commands: list[list[str]],
    env: dict[str, str],
    port: int,
) -> None:
    """Bot then bare endpoint on `port`: warm-up, one timed wrk run each, printed."""
    url = f"http://127.0.0.1:{port}"
    phone = Phone(settings)
    print(f"{label}", flush=True)
    log = workdir / f"{port}-servers.log"
    with servers(bot_commands, env, url, log):
        reporters = neighbour_heads(db_url, args.reporters)
        bind(phone, url, reporters)
        texts = problem_texts(reporters, args.bodies + args.bodies // 10, args.seed)
        warm = workdir / f"{port}-warm.txt"
        timed = workdir / f"{port}-timed.txt"
        presign(phone, texts[args.bodies :], len(reporters), warm)
        presign(phone, texts[: args.bodies], len(reporters), timed)
        run_wrk(wrk, url, warm, args, 2)
        after_warm = settled_ticket_count(db_url)
        bot = run_wrk(wrk, url, timed, args, args.duration)
        made = settled_ticket_count(db_url) - after_warm
    with servers(bare_commands, env, url, log):
        run_wrk(wrk, url, warm, args, 2)
        bare = run_wrk(wrk, url, timed, args, args.duration)
    repeated = bot["requests"] > args.bodies
    note = f", {made} tickets made" + (" (bodies repeated: raise --bodies)" if repeated else "")
    print(line("bot (report → ticket)", bot, note))
    print(line("bare Flask", bare))
    print(f"  ratio                      {bot['rps'] / bare['rps']:8.3f} x", flush=True)


def in_process(args: argparse.Namespace, db_url: str | None, instance: Path) -> None:
    """SQL statements and CPU time per report, one process, no HTTP: Flask's test client."""
    from sqlalchemy import Engine, event

    from bot.app import create_app
    from demo.cli import seed_demo_if_empty
    from models.db import make_engine
    from models.migrate import upgrade

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, instance_path=instance, database_url=db_url, log_level="WARNING"
    ).with_development_credentials()
    engine = make_engine(settings.resolved_database_url)
    if db_url:
        _reset_pg(engine)
    upgrade(engine)
    seed_demo_if_empty(engine)
    app = create_app(settings, engine=engine)
    client = app.test_client()
    phone = Phone(settings)
    reporters = neighbour_heads(settings.resolved_database_url, args.reporters)
    for n, (name, number, _, _) in enumerate(reporters):
        signed = phone.sign(message_xml(text_fields(openid(n), f"绑定 {name} {number}")))
        client.post("/wechat", query_string=signed.query, data=signed.body)
    texts = problem_texts(reporters, args.reports + 20, args.seed + 1)
    signed_all = [
        phone.sign(message_xml(text_fields(openid(i % len(reporters)), t)))
        for i, t in enumerate(texts)
    ]
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(Engine, "before_cursor_execute", count)
    per_report: list[tuple[int, float]] = []
    profiler = cProfile.Profile() if args.profile else None
    for i, signed in enumerate(signed_all):
        statements = 0
        if profiler and i >= 20:
            profiler.enable()
        cpu = time.process_time()
        response = client.post("/wechat", query_string=signed.query, data=signed.body)
        cpu = time.process_time() - cpu
        if profiler:
            profiler.disable()
        if response.status_code != 200:
            raise SystemExit(f"report answered {response.status_code}")
        if i >= 20:  # after a warm-up
            per_report.append((statements, cpu))
    event.remove(Engine, "before_cursor_execute", count)
    bare_client = bare_app().test_client()
    bare_cpu = []
    for signed in signed_all:
        cpu = time.process_time()
        bare_client.post("/wechat", query_string=signed.query, data=signed.body)
        bare_cpu.append(time.process_time() - cpu)
    counts = [s for s, _ in per_report]
    cpus = [c * 1000 for _, c in per_report]
    name = engine.dialect.name
    print(
        f"  {name:10s} per report: {statistics.mean(counts):5.1f} SQL statements "
        f"(min {min(counts)}, max {max(counts)}), CPU median {statistics.median(cpus):5.2f} ms, "
        f"mean {statistics.mean(cpus):5.2f} ms over {len(per_report)} reports; "
        f"bare Flask CPU median {statistics.median(bare_cpu) * 1000:5.2f} ms",
        flush=True,
    )
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(25)
    engine.dispose()


def _reset_pg(engine: Any) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database when missing (from the `postgres` database)."""
    from sqlalchemy import text

    from models.db import make_engine

    engine = make_engine(url)
    name = engine.url.database
    admin = make_engine(engine.url.set(database="postgres").render_as_string(hide_password=False))
    engine.dispose()
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if found.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=20, help="seconds of each timed run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=16, help="waitress threads per process")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--processes", default="1,4", help="web processes on PostgreSQL")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test_f_load")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--port", type=int, default=8600)
    parser.add_argument("--reporters", type=int, default=200, help="bound 邻长 sending")
    parser.add_argument(
        "--bodies", type=int, default=20000, help="pre-signed reports per timed run"
    )
    parser.add_argument("--reports", type=int, default=300, help="in-process reports timed")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process run")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--serve-child", choices=["bare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_child:
        serve_child(args.port, args.threads)
        return

    wrk = ensure_wrk()
    print(
        f"machine: {os.cpu_count()} cores; wrk -t{args.wrk_threads} -c{args.connections} "
        f"-d{args.duration}s after a 2 s warm-up; waitress {args.threads} threads per process; "
        f"{args.reporters} bound 邻长 sending safe-mode reports, each its own MsgId",
        flush=True,
    )
    me = [sys.executable, str(Path(__file__).resolve())]
    py = sys.executable
    workdir = Path(tempfile.mkdtemp(prefix="grievance-load-"))
    port = args.port

    if not args.no_sqlite:
        instance = workdir / "sqlite-instance"
        env = clean_env(GRIEVANCE_INSTANCE_PATH=str(instance))
        settings = Settings(_env_file=None, instance_path=instance)  # type: ignore[call-arg]
        settings = settings.with_development_credentials()
        bot = [[py, "-m", "bot.cli", "serve", "--port", str(port), "--threads", str(args.threads)]]
        bare = [[*me, "--serve-child", "bare", "--port", str(port), "--threads", str(args.threads)]]
        measure(
            f"SQLite, `grievance-bot serve` (1 process), {args.connections} connections",
            wrk,
            args,
            workdir,
            settings,
            settings.resolved_database_url,
            bot,
            bare,
            env,
            port,
        )
        port += 1

    if not args.no_pg:
        ensure_database(args.pg)
        for count in [int(n) for n in args.processes.split(",")]:
            instance = workdir / f"pg-instance-{count}"
            env = clean_env(GRIEVANCE_INSTANCE_PATH=str(instance), GRIEVANCE_DATABASE_URL=args.pg)
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None, instance_path=instance, database_url=args.pg
            ).with_development_credentials()
            from models.db import make_engine

            engine = make_engine(args.pg)
            _reset_pg(engine)
            engine.dispose()
            for step in (["db", "upgrade"], ["demo", "seed"]):
                subprocess.run(
                    [py, "-m", "bot.cli", *step], env=env, check=True, stdout=subprocess.DEVNULL
                )
            gunicorn = [
                str(Path(py).parent / "gunicorn"),
                *("--workers", str(count), "--threads", str(args.threads)),
                *("--worker-class", "gthread", "--bind", f"127.0.0.1:{port}"),
                *("--chdir", str(ROOT / "bench"), "--pythonpath", str(ROOT)),
            ]
            bot = [[*gunicorn, "bot.wsgi:app"], [py, "-m", "bot.cli", "worker"]]
            bare = [[*gunicorn, "load_bench:bare_app()"]]
            measure(
                f"PostgreSQL, gunicorn {count} process(es) + 1 worker, "
                f"{args.connections} connections",
                wrk,
                args,
                workdir,
                settings,
                args.pg,
                bot,
                bare,
                env,
                port,
            )
            port += 1

    print("in-process, one report at a time (Flask test client, no HTTP)", flush=True)
    if not args.no_sqlite:
        in_process(args, None, workdir / "inproc-sqlite")
    if not args.no_pg:
        in_process(args, args.pg, workdir / "inproc-pg")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
