"""Browser fixtures: the real app on a free port, headless Chromium at phone and desktop size.

Chromium is Debian's (`apt-get install chromium fonts-wqy-microhei`), driven by Playwright for
Python through `executable_path` (no browser download). Without them the browser tests are
skipped with a message naming what is missing; scripts/test.sh installs them where it can.
Screenshots go to instance/screenshots/ at the top of the tree (gitignored), one per page and size.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine
from werkzeug.serving import BaseWSGIServer, make_server

from bot.app import create_app
from config.settings import Settings
from tests.fake_wechat import FakeWeChat, running_fake, wechat_settings
from tests.town import SmallTown, build_small_town

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("GRIEVANCE_SCREENSHOTS", ROOT / "instance" / "screenshots"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
# This worktree's ports on the shared machine: GRIEVANCE_TEST_PORTS="9000-9099" picks others.
_FIRST, _LAST = os.environ.get("GRIEVANCE_TEST_PORTS", "8500-8599").split("-")
PORTS = range(int(_FIRST), int(_LAST) + 1)


def chromium_path() -> str | None:
    return (
        os.environ.get("GRIEVANCE_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


def missing_for_browser() -> list[str]:
    """What the browser tests need and this machine lacks."""
    missing = []
    if chromium_path() is None:
        missing.append("chromium (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    fonts = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
    if not fonts.exists():
        missing.append("fonts-wqy-microhei (apt-get install fonts-wqy-microhei)")
    return missing


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@dataclass
class LiveServer:
    """The app served on loopback in a thread, as a phone or a desktop would reach it."""

    app: Flask
    url: str
    server: BaseWSGIServer

    def stop(self) -> None:
        self.server.shutdown()
        # Wait for requests still being answered: their database connections go back to the
        # pool before the test's engine is disposed.
        self.server.server_close()


def serve(app: Flask, port: int) -> LiveServer:
    server = make_server("127.0.0.1", port, app, threaded=True)
    server.daemon_threads = False  # type: ignore[attr-defined]
    server.block_on_close = True  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, name="live-app", daemon=True).start()
    return LiveServer(app, f"http://127.0.0.1:{port}", server)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def web_settings(settings: Settings, port: int) -> Settings:
    """The test town's settings, with the pages' public address at the live server."""
    return settings.model_copy(
        update={"public_url": f"http://127.0.0.1:{port}", "web_secret": "test-web-secret"}
    )


@pytest.fixture
def live(web_settings: Settings, engine: Engine, port: int) -> Iterator[LiveServer]:
    server = serve(create_app(web_settings, engine=engine), port)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    missing = missing_for_browser()
    if missing:
        pytest.skip("browser tests need: " + ", ".join(missing))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


def _page(browser: Any, viewport: dict[str, int], **extra: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=viewport, locale="zh-CN", **extra)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    """A phone-sized page (390×844), a fresh cookie jar."""
    yield from _page(browser, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)


@pytest.fixture
def desktop_page(browser: Any) -> Iterator[Any]:
    """A desktop-sized page (1366×900), a fresh cookie jar."""
    yield from _page(browser, DESKTOP)


def submit(page: Any, selector: str = "button[type=submit]") -> None:
    """Click a form's button and wait for the page it leads to (never read the old one)."""
    with page.expect_navigation():
        page.click(selector)


def shoot(page: Any, name: str) -> Path:
    """A full-page screenshot for people to look at: instance/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A small PNG, striped so it is plainly a picture, as a 邻长's photo would arrive."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            stripe = ((x + y) // 16) % 2
            rows.extend(c // (2 - stripe) for c in colour)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def town(engine: Engine) -> SmallTown:
    """桃花镇, the small town of tests/town.py (a test module may build its own instead)."""
    return build_small_town(engine)


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    """A fake WeChat API on loopback."""
    with running_fake() as running:
        yield running


@pytest.fixture
def wired(web_settings: Settings, fake: FakeWeChat) -> Settings:
    """Settings that deliver and download through the fake WeChat."""
    return wechat_settings(web_settings, fake)


@pytest.fixture
def site(wired: Settings, engine: Engine, port: int) -> Iterator[LiveServer]:
    """The app on a free port, wired to the fake WeChat."""
    server = serve(create_app(wired, engine=engine), port)
    yield server
    server.stop()
