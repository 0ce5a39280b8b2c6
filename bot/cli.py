"""The `grievance-bot` command."""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys
import threading
from typing import Any

import click
import requests

from bot import texts as bot_texts
from bot.cli_admin import admin
from bot.cli_jobs import jobs
from bot.cli_learn import learn
from bot.cli_outbox import outbox, spool
from bot.cli_outbox import worker as worker_command
from bot.cli_parse import parse
from bot.cli_report import report
from bot.cli_roster import roster
from bot.cli_support import open_database
from bot.cli_tickets import ticket
from bot.ingest import start_ingest
from bot.phone import Phone, message_xml, reply_text, text_fields
from bot.scheduler import start_scheduler
from bot.worker import build_worker, run_worker
from config.office import load_office
from config.settings import MissingExtra, ProductionConfigError, Settings, get_settings
from demo.cli import demo, describe, seed_demo_if_empty
from handlers import texts
from models.db import make_engine
from models.migrate import upgrade

log = logging.getLogger("grievance_bot")


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _settings_for_run() -> Settings:
    """Settings checked for production, with development credentials filled in otherwise."""
    settings = get_settings()
    try:
        settings.check_production()
    except ProductionConfigError as exc:
        raise click.ClickException(f"refusing to start in production: {exc}") from exc
    return settings.with_development_credentials()


class _Commands(click.Group):
    """The command group; a setting whose optional package is missing ends as one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MissingExtra as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Commands)
def main() -> None:
    """grievance-bot: 邻长's WeChat messages to tracked grievance tickets."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, threads: int) -> None:
    """Run the webhook server, one outbox worker and the scheduled jobs on this machine."""
    from waitress import serve as waitress_serve

    from bot.app import create_app

    settings = _settings_for_run()
    settings = settings.model_copy(
        update={"public_url": settings.public_url or local_url(host, port)}
    )
    _configure_logging(settings)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    if not settings.is_production:
        # A newcomer's first start has someone to talk to; production never gets made-up people.
        seeded = seed_demo_if_empty(engine)
        if seeded is not None:
            log.info("empty development database: seeded the demo town %s", seeded.town.name)
            click.echo(describe(seeded))
    if not settings.is_production and not get_settings().has_wechat_credentials:
        _announce_development(settings, host, port)
    office = load_office(settings)  # one SLA, calendar and taxonomy for the web app and the jobs
    app = create_app(settings, engine=engine, office=office)
    # One worker thread delivers the outbox beside the web server; SIGTERM ends both cleanly.
    stop = threading.Event()
    worker = build_worker(engine, settings)  # here, so a bad templates file stops the start
    worker_thread = threading.Thread(
        target=run_worker,
        args=(engine, settings, stop),
        kwargs={"worker": worker},
        name="outbox-worker",
        daemon=True,
    )
    worker_thread.start()
    # Callbacks spooled while the database was down are handled here once it is back.
    ingest_thread = start_ingest(
        app.extensions["grievance"]["inbox"], stop, poll_seconds=settings.worker_poll_seconds
    )
    scheduler = start_scheduler(engine, settings, office=office)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    click.echo(texts.SERVE_LISTENING.format(url=local_url(host, port)))
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="grievance-bot")
    finally:
        scheduler.shutdown(wait=True)
        stop.set()
        worker_thread.join(timeout=30)
        if ingest_thread is not None:
            ingest_thread.join(timeout=30)


def _exit_on_signal(signum: int, _frame: object) -> None:
    # waitress stops its loop on SystemExit, so `serve` can stop its worker before leaving.
    raise SystemExit(0)


def local_url(host: str, port: int) -> str:
    """The address a `chat` on this machine reaches the server at."""
    try:
        everywhere = not host or ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a host name
        everywhere = False
    if everywhere:  # listening on every address: this machine's loopback is one of them
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _announce_development(settings: Settings, host: str, port: int) -> None:
    banner = texts.DEV_BANNER.format(
        credentials=settings.instance_path / "dev-credentials.json",
        url=local_url(host, port),
        wechat_token=settings.wechat_token,
        wecom_token=settings.wecom_token,
    )
    click.echo("\n".join(["=" * 70, banner, "=" * 70]))


main.add_command(outbox)
main.add_command(spool)
main.add_command(worker_command)
main.add_command(jobs)
main.add_command(ticket)
main.add_command(parse)
main.add_command(roster)
main.add_command(demo)
main.add_command(report)
main.add_command(admin)
main.add_command(learn)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    with open_database() as engine:
        where = engine.url.render_as_string(hide_password=True)
    click.echo(f"database at the newest schema: {where}")


@main.command()
@click.option("--as", "sender", required=True, help="The openid (or WeCom userid) to send as.")
@click.option(
    "--wecom",
    is_flag=True,
    help=(
        f"Send through the {bot_texts.WECOM} callback instead of the {bot_texts.OFFICIAL_ACCOUNT}."
    ),
)
@click.option(
    "--url", default="http://127.0.0.1:8000", show_default=True, help="The running server."
)
@click.argument("text", nargs=-1, required=True)
def chat(sender: str, wecom: bool, url: str, text: tuple[str, ...]) -> None:
    """Send TEXT as a phone would (signed, encrypted unless GRIEVANCE_WECHAT_MODE is plaintext)."""
    settings = get_settings().with_development_credentials()
    phone = Phone(settings, wecom=wecom)
    fields = text_fields(sender, " ".join(text))
    if wecom:
        fields["ToUserName"] = settings.wecom_corp_id
        fields["AgentID"] = settings.wecom_agent_id
    signed = phone.sign(message_xml(fields))
    try:
        response = requests.post(
            url.rstrip("/") + phone.path, params=signed.query, data=signed.body, timeout=10
        )
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach {url}: {exc}") from exc
    if response.status_code != 200:
        raise click.ClickException(f"server answered {response.status_code}: {response.text[:200]}")
    reply = reply_text(phone.open_reply(signed, response.text))
    click.echo(reply or "(no reply: the server answered success)")


if __name__ == "__main__":
    sys.exit(main())
