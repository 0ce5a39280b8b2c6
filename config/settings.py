"""Settings read from GRIEVANCE_* environment variables and an optional `.env` file."""

from __future__ import annotations

import importlib
import json
import secrets
import string
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values people leave in example files; production refuses to start with them.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "token", "secret", "xxx", "your-token", "placeholder", "test"}
)
DEV_CREDENTIALS_FILE = "dev-credentials.json"
# URL schemes served by psycopg 3, the driver of the `postgres` extra (models/db.py turns a plain
# postgresql:// into postgresql+psycopg://).
PSYCOPG_SCHEMES = frozenset({"postgresql", "postgresql+psycopg"})


class ProductionConfigError(RuntimeError):
    """Raised when production mode is asked for with missing or placeholder secrets."""


class MissingExtra(RuntimeError):
    """A setting asks for an optional dependency that is not installed; the message says how."""


def require_extra(module: str, extra: str, setting: str) -> None:
    """Import `module` or raise MissingExtra naming the extra that installs it."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(
            f"{setting} needs the {module} package, which is not installed: "
            f"pip install 'grievance-bot[{extra}]'"
        ) from exc


class Settings(BaseSettings):
    """Every setting of the bot; see the README's table for what each one does."""

    model_config = SettingsConfigDict(
        env_prefix="GRIEVANCE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["development", "production"] = "development"
    instance_path: Path = Path("instance")
    database_url: str | None = None

    wechat_token: str | None = None
    wechat_aes_key: str | None = None
    wechat_aes_key_previous: str | None = None
    wechat_appid: str | None = None
    wechat_secret: str | None = None
    wechat_max_clock_skew: int = Field(default=300, ge=0)
    # The 公众号's 消息加解密方式; None: safe when an EncodingAESKey is set, else plaintext.
    wechat_mode: Literal["plaintext", "compatible", "safe"] | None = None

    wecom_corp_id: str | None = None
    wecom_token: str | None = None
    wecom_aes_key: str | None = None
    wecom_agent_id: str | None = None
    wecom_secret: str | None = None

    # The office's own taxonomy (categories, their words, level and unit) and routing overrides;
    # the defaults beside this module are used when unset.
    taxonomy_file: Path | None = None
    routing_file: Path | None = None

    max_body_bytes: int = Field(default=64 * 1024, gt=0)

    # Deadlines: the SLA file (limits, reminders, escalation, 回访, job schedule) and the office's
    # holiday file (years the chinesecalendar package does not know); None = the files in config/.
    sla_file: Path | None = None
    holidays_file: Path | None = None

    log_level: str = "INFO"

    # --- Web pages (web/) ---
    # Signs ticket links, sign-in codes and the session cookie; development makes one in the
    # instance folder when unset. The public address puts absolute links in notifications.
    web_secret: str | None = None
    public_url: str | None = None

    # --- Delivery (outbox worker, WeChat API clients, shared access token, media) ---
    # None: "wechat" when outbound credentials (AppSecret or 企业微信 Secret) are set, else console.
    delivery: Literal["console", "wechat"] | None = None
    wechat_api_base: str = "https://api.weixin.qq.com/cgi-bin/"
    wecom_api_base: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    redis_url: str | None = None  # access tokens and their lock in Redis instead of the database
    worker_batch_size: int = Field(default=50, gt=0)
    worker_lease_seconds: int = Field(default=60, ge=30)
    worker_max_attempts: int = Field(default=12, gt=0)
    worker_poll_seconds: float = Field(default=2.0, gt=0)
    templates_file: Path | None = None  # template ids per notification kind; None: the default
    # Callbacks kept in the instance folder's spool while the database is down; past this many
    # waiting, new ones are refused (the sender is asked to send again later).
    spool_max_messages: int = Field(default=10_000, gt=0)

    @property
    def spool_path(self) -> Path:
        """The folder of the inbound spool."""
        return self.instance_path / "spool"

    @property
    def resolved_delivery(self) -> Literal["console", "wechat"]:
        """How outbox messages leave: the setting, or "wechat" when outbound secrets are set."""
        if self.delivery is not None:
            return self.delivery
        outbound = (self.wechat_appid and self.wechat_secret) or (
            self.wecom_corp_id and self.wecom_secret and self.wecom_agent_id
        )
        return "wechat" if outbound else "console"

    @property
    def resolved_wechat_mode(self) -> Literal["plaintext", "compatible", "safe"]:
        """How the 公众号 sends callbacks: the setting, or safe when an EncodingAESKey is set."""
        if self.wechat_mode is not None:
            return self.wechat_mode
        return "safe" if self.wechat_aes_key else "plaintext"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the instance folder.

        A PostgreSQL URL needs the `postgres` extra: MissingExtra says so when it is missing.
        """
        if self.database_url:
            scheme = self.database_url.partition("://")[0].lower()
            if scheme in PSYCOPG_SCHEMES:
                require_extra("psycopg", "postgres", "GRIEVANCE_DATABASE_URL (PostgreSQL)")
            return self.database_url
        return f"sqlite:///{(self.instance_path / 'grievance.sqlite3').resolve()}"

    @property
    def has_wechat_credentials(self) -> bool:
        """True when a 公众号 or a 企业微信 app is configured."""
        return bool(self.wechat_token or self.wecom_token)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def check_production(self) -> None:
        """Refuse to run in production on missing or placeholder secrets."""
        if not self.is_production:
            return
        problems: list[str] = []
        if not (self.wechat_token or self.wecom_token):
            problems.append("neither GRIEVANCE_WECHAT_TOKEN nor GRIEVANCE_WECOM_TOKEN is set")
        groups = {
            "WECHAT": (self.wechat_token, ["token", "appid"]),
            "WECOM": (self.wecom_token, ["token", "corp_id", "aes_key"]),
        }
        for prefix, (enabled, required) in groups.items():
            if not enabled:
                continue
            for name in required:
                value = getattr(self, f"{prefix.lower()}_{name}")
                if _is_placeholder(value):
                    problems.append(
                        f"GRIEVANCE_{prefix}_{name.upper()} is missing or a placeholder"
                    )
        if (
            self.wechat_token
            and self.resolved_wechat_mode != "plaintext"
            and not self.wechat_aes_key
        ):
            problems.append(
                f"GRIEVANCE_WECHAT_MODE is {self.resolved_wechat_mode} "
                "but GRIEVANCE_WECHAT_AES_KEY is not set"
            )
        for name in ("wechat_aes_key", "wechat_aes_key_previous", "wecom_aes_key"):
            value = getattr(self, name)
            if value and len(value) != 43:
                problems.append(f"GRIEVANCE_{name.upper()} must be 43 characters long")
        if problems:
            raise ProductionConfigError("; ".join(problems))

    def with_development_credentials(self) -> Settings:
        """Fill missing WeChat credentials from the instance's development file (made if absent)."""
        if self.is_production or self.has_wechat_credentials:
            return self
        creds = load_or_create_dev_credentials(self.instance_path)
        return self.model_copy(update=creds)


def _is_placeholder(value: str | None) -> bool:
    return value is None or value.strip().lower() in PLACEHOLDER_SECRETS


def _random_aes_key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(43))


def load_or_create_dev_credentials(instance_path: Path) -> dict[str, str]:
    """Development-mode credentials kept in the instance folder so `chat` can sign like WeChat."""
    path = instance_path / DEV_CREDENTIALS_FILE
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return data
    data = {
        "wechat_token": "dev-" + secrets.token_hex(8),
        "wechat_aes_key": _random_aes_key(),
        "wechat_appid": "wxdevelopment0000",
        "wecom_token": "dev-" + secrets.token_hex(8),
        "wecom_aes_key": _random_aes_key(),
        "wecom_corp_id": "wwdevelopment0000",
        "wecom_agent_id": "1000002",
    }
    instance_path.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
