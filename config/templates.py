"""公众号 template messages: which template each notification kind uses and what fills its fields.

The data lives in ``templates.toml`` beside this module (or the file named by
``GRIEVANCE_TEMPLATES_FILE``) so an office can paste its template ids without touching code.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).with_name("templates.toml")
PLACEHOLDER_PREFIX = "PLACEHOLDER"
MISSING_VALUE = "-"

# WeChat refuses (or cuts) field values over these lengths, by the field name's type prefix.
FIELD_LIMITS: tuple[tuple[str, int], ...] = (
    ("character_string", 32),
    ("phone_number", 17),
    ("car_number", 8),
    ("thing", 20),
    ("phrase", 5),
    ("name", 10),
    ("number", 32),
    ("letter", 32),
    ("symbol", 5),
    ("amount", 20),
)
DEFAULT_LIMIT = 200  # the old keyword1/keyword2 style fields


class TemplatesError(ValueError):
    """The templates file is unreadable or malformed."""


def field_limit(name: str) -> int:
    """The most characters WeChat takes in a template field of this name."""
    for prefix, limit in FIELD_LIMITS:
        if name.startswith(prefix):
            return limit
    return DEFAULT_LIMIT


class _Values(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return MISSING_VALUE


@dataclass(frozen=True)
class Template:
    """One template: its id, an optional link, and a format string per field."""

    template_id: str
    fields: Mapping[str, str]
    url: str = ""

    @property
    def configured(self) -> bool:
        """False while the id is still the example file's placeholder."""
        return bool(self.template_id) and not self.template_id.startswith(PLACEHOLDER_PREFIX)

    def render(self, values: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        """The `data` argument of WeChat's template send: each field filled and cut to its limit."""
        known = _Values({key: str(value) for key, value in values.items() if value is not None})
        data: dict[str, dict[str, str]] = {}
        for name, pattern in self.fields.items():
            text = " ".join(string.Formatter().vformat(pattern, (), known).split()) or MISSING_VALUE
            limit = field_limit(name)
            if len(text) > limit:
                text = text[: limit - 1] + "…"
            data[name] = {"value": text}
        return data


@dataclass(frozen=True)
class Templates:
    """Every kind's template, with a default for kinds that have none of their own."""

    kinds: Mapping[str, Template] = field(default_factory=dict)
    default: Template | None = None

    def for_kind(self, kind: str) -> Template | None:
        """The configured template for a notification kind, or None when there is none."""
        template = self.kinds.get(kind, self.default)
        if template is None or not template.configured:
            return None
        return template


def _template(where: str, raw: Any) -> Template:
    if not isinstance(raw, dict):
        raise TemplatesError(f"{where} must be a table")
    template_id = raw.get("template_id")
    fields = raw.get("fields", {})
    url = raw.get("url", "")
    if not isinstance(template_id, str):
        raise TemplatesError(f"{where}.template_id must be a string")
    if not isinstance(url, str):
        raise TemplatesError(f"{where}.url must be a string")
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise TemplatesError(f"{where}.fields must map field names to strings")
    for name, pattern in fields.items():
        try:
            list(string.Formatter().parse(pattern))
        except ValueError as exc:
            raise TemplatesError(f"{where}.fields.{name}: {exc}") from exc
    return Template(template_id=template_id.strip(), fields=dict(fields), url=url.strip())


def load_templates(path: Path | None = None) -> Templates:
    """Read and check a templates file (the packaged default when `path` is None)."""
    path = path or DEFAULT_PATH
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TemplatesError(f"cannot read {path}: {exc}") from exc
    unknown = set(raw) - {"default", "kinds"}
    if unknown:
        raise TemplatesError(f"{path}: unknown sections {sorted(unknown)}")
    default = _template("default", raw["default"]) if "default" in raw else None
    kinds_raw = raw.get("kinds", {})
    if not isinstance(kinds_raw, dict):
        raise TemplatesError(f"{path}: kinds must be a table")
    kinds = {name: _template(f"kinds.{name}", value) for name, value in kinds_raw.items()}
    return Templates(kinds=kinds, default=default)
