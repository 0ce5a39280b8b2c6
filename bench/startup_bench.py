"""Server start-up time to the first answered message, and resident memory with the demo town.

Starts `grievance-bot serve` twice on a fresh instance folder: the first start migrates and seeds
the demo town (development mode), the second is an ordinary restart. For each it prints the time
from process start to the first answered `chat` message and the server's resident memory then.

    .venv/bin/python bench/startup_bench.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bot.phone import Phone, message_xml, reply_text, text_fields
from config.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_and_ask(instance: Path) -> tuple[float, float, str]:
    """Seconds to the first answer, the server's RSS in MB, and the answer."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIEVANCE_")}
    env.update(GRIEVANCE_INSTANCE_PATH=str(instance), GRIEVANCE_LOG_LEVEL="WARNING")
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/wechat"
        while True:
            if time.perf_counter() - started > 60:
                raise SystemExit("no answer within 60 s")
            settings_file = instance / "dev-credentials.json"
            if not settings_file.exists():
                time.sleep(0.02)
                continue
            settings = Settings(
                _env_file=None, instance_path=instance
            ).with_development_credentials()  # type: ignore[call-arg]
            phone = Phone(settings)
            signed = phone.sign(message_xml(text_fields("bench-openid", "帮助")))
            try:
                response = requests.post(url, params=signed.query, data=signed.body, timeout=5)
            except requests.ConnectionError:
                time.sleep(0.02)
                continue
            elapsed = time.perf_counter() - started
            answer = reply_text(phone.open_reply(signed, response.text))
            return elapsed, rss_mb(server.pid), answer
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    instance = Path(tempfile.mkdtemp(prefix="grievance-startup-"))
    for label in ("first start (migrate + seed demo town)", "restart"):
        elapsed, rss, answer = start_and_ask(instance)
        print(
            f"{label:42s} first answer after {elapsed:5.2f} s, RSS {rss:6.1f} MB"
            f" ({'answered' if answer else 'no reply'})"
        )


if __name__ == "__main__":
    main()
