"""The command line as an operator uses it: a real server process and a real `chat`."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest
import requests
from click.testing import CliRunner

from bot.cli import main
from config.settings import ProductionConfigError, Settings

BIN = Path(sys.executable).parent / "grievance-bot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIEVANCE_")}
    env.update(GRIEVANCE_INSTANCE_PATH=str(instance), **extra)
    return env


def wait_for_health(port: int) -> None:
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).ok:
                return
        except requests.RequestException:
            time.sleep(0.1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_in_development_mode_answers_chat(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    env = clean_env(tmp_path / "instance")
    server = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_health(port)
        chat = subprocess.run(
            [str(BIN), "chat", "--as", "demo-openid", "--url", f"http://127.0.0.1:{port}", "帮助"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert chat.returncode == 0, chat.stderr
        assert "邻长反映问题" in chat.stdout
        wecom = subprocess.run(
            [
                str(BIN),
                "chat",
                "--wecom",
                "--as",
                "cadre-1",
                "--url",
                f"http://127.0.0.1:{port}",
                "菜单",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "邻长反映问题" in wecom.stdout, wecom.stderr
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert "开发模式" in output
    assert (tmp_path / "instance" / "grievance.sqlite3").exists()


def output_lines(stream: IO[str]) -> queue.Queue[str]:
    """A running process's output lines, read as they come by a thread of their own."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def read_until(lines: queue.Queue[str], needle: str, seconds: float) -> str:
    """The first output line holding `needle`."""
    seen: list[str] = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r} in:\n{''.join(seen)}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_banners_chat_line_works_on_the_port_in_use(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    env = clean_env(tmp_path / "instance")
    server = subprocess.Popen(
        [str(BIN), "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = read_until(output_lines(server.stdout), "grievance-bot chat", 30).strip()
        assert line == f"grievance-bot chat --url http://127.0.0.1:{port} --as demo-openid 帮助"
        wait_for_health(port)
        # The line as a newcomer copies it into another terminal.
        chat = subprocess.run(
            [str(BIN), *line.split()[1:]], env=env, capture_output=True, text=True, timeout=30
        )
        assert chat.returncode == 0, chat.stderr
        assert "邻长反映问题" in chat.stdout
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_production_refuses_placeholder_secrets(tmp_path: Path) -> None:
    env = clean_env(tmp_path, GRIEVANCE_ENV="production", GRIEVANCE_WECHAT_TOKEN="changeme")
    result = subprocess.run(
        [str(BIN), "serve"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    assert "refusing to start in production" in result.stderr
    assert "GRIEVANCE_WECHAT_TOKEN" in result.stderr


def test_production_checks() -> None:
    with pytest.raises(ProductionConfigError, match="neither"):
        Settings(_env_file=None, env="production").check_production()  # type: ignore[call-arg]
    with pytest.raises(ProductionConfigError, match="43 characters"):
        Settings(
            _env_file=None,
            env="production",
            wechat_token="a-real-token",  # type: ignore[call-arg]
            wechat_appid="wx123",
            wechat_aes_key="short",
        ).check_production()
    Settings(
        _env_file=None,
        env="production",
        wechat_token="a-real-token",  # type: ignore[call-arg]
        wechat_appid="wx1234567890",
        wechat_aes_key="k" * 43,
    ).check_production()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_db_upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    from config.settings import get_settings

    monkeypatch.setenv("GRIEVANCE_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.delenv("GRIEVANCE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert (tmp_path / "inst" / "grievance.sqlite3").exists()
