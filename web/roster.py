"""The office's roster page: check an uploaded sheet (changing nothing), apply it, invite, unlock.

Upload → the file is kept in the instance folder under a random name (its name kept in the
session, so only the person who uploaded it can apply it) and checked by `preview_roster`:
the import's own all-or-nothing problems by row and column, or the counts an apply would make.
"确认导入" runs `import_roster` on the same file in one unit of work. Invite codes and lifting a
lock-out call models/binding.py as `roster invite` and `roster unlock` do. Each action is logged
with the person who took it. Dispatchers (their own town) and admins (any town) only.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session
from sqlmodel import Session, col, select

from handlers import texts as chat_texts
from models.binding import (
    InviteRefused,
    failed_targets_today,
    find_people,
    invite,
    unlock_who,
)
from models.db import unit_of_work
from models.person import ROLE_NAMES, Person, Role, roles_of
from models.place import Place, PlaceKind
from models.roster import ImportResult, import_roster, preview_roster
from web import texts
from web.identity import check_csrf, engine, now, settings, signed_in
from web.office import office_person
from web.views import local

log = logging.getLogger(__name__)
blueprint = Blueprint("web_roster", __name__, template_folder="templates")
MAX_SHEET_BYTES = 32 * 1024 * 1024  # a county's 200,000 rows


@blueprint.before_request
def allow_sheets() -> None:
    """A roster sheet is larger than the webhook's body limit (set before the CSRF check)."""
    request.max_content_length = MAX_SHEET_BYTES


blueprint.before_request(check_csrf)
UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.(xlsx|csv)$")
UPLOAD_KEY = "roster_upload"
KEEP_SECONDS = 24 * 3600


def _folder() -> Path:
    folder = settings().instance_path / "roster-uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _towns(db: Session, person: Person) -> list[Place]:
    """The towns this person may import: an admin's any, a dispatcher's own (above or below)."""
    stmt = select(Place).where(Place.kind == PlaceKind.town.value).order_by(col(Place.path))
    towns = list(db.exec(stmt))
    assert person.id is not None
    if Role.admin in roles_of(db, person.id):
        return towns
    own = db.get(Place, person.place_id)
    assert own is not None
    return [t for t in towns if t.path.startswith(own.path) or own.path.startswith(t.path)]


def _town(db: Session) -> Place:
    wanted = request.form.get("town", "")
    towns = _towns(db, g.person)
    town = next((t for t in towns if str(t.id) == wanted), None)
    if town is None:
        abort(403)
    return town


def _by() -> str:
    return f"web:{g.person.id} {g.person.name}"


def _page(**extra: Any) -> Any:
    moment = now()
    return render_template(
        "roster.html",
        towns=_towns(g.db, g.person),
        failed=failed_targets_today(g.db, moment),
        **extra,
    )


@blueprint.get("/office/roster")
@signed_in
def roster() -> Any:
    """Upload, invite and unlock forms, and today's failed bindings."""
    office_person()
    return _page()


def _forget_old_uploads(folder: Path) -> None:
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.iterdir():
        if UPLOAD_NAME.match(old.name) and old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


@blueprint.post("/office/roster/check")
@signed_in
def check() -> Any:
    """Keep the uploaded sheet under a random name and check it: nothing changes."""
    office_person()
    town = _town(g.db)
    upload = request.files.get("sheet")
    if upload is None or not upload.filename:
        flash(texts.ROSTER_NO_FILE, "error")
        return redirect("/office/roster")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        flash(texts.ROSTER_WRONG_TYPE, "error")
        return redirect("/office/roster")
    folder = _folder()
    _forget_old_uploads(folder)
    previous = session.get(UPLOAD_KEY)
    if isinstance(previous, dict) and UPLOAD_NAME.match(str(previous.get("name", ""))):
        (folder / previous["name"]).unlink(missing_ok=True)
    name = secrets.token_hex(16) + suffix
    upload.save(folder / name)
    session[UPLOAD_KEY] = {"name": name, "file": upload.filename[:100], "town": town.id}
    result = preview_roster(engine(), folder / name, town_name=town.name)
    log.info("roster checked on the web by %s for %s: %s", _by(), town.name, result.summary())
    return _page(result=result, town=town, file=upload.filename, preview=_preview(result))


def _preview(result: ImportResult) -> str:
    return texts.ROSTER_PREVIEW_OK.format(
        added=result.added,
        updated=result.updated,
        deactivated=result.deactivated,
        unchanged=result.unchanged,
        places_added=result.places_added,
        units_added=result.units_added,
    )


@blueprint.post("/office/roster/apply")
@signed_in
def apply() -> Any:
    """Import the sheet checked last in this session, all or nothing."""
    office_person()
    kept = session.get(UPLOAD_KEY)
    if not isinstance(kept, dict):
        kept = {}
    path = None
    if UPLOAD_NAME.match(str(kept.get("name", ""))):
        path = _folder() / kept["name"]
    if path is None or not path.is_file():
        flash(texts.ROSTER_UPLOAD_GONE, "error")
        return redirect("/office/roster")
    town = next((t for t in _towns(g.db, g.person) if t.id == kept.get("town")), None)
    if town is None:
        abort(403)
    with unit_of_work(engine()) as db:
        result = import_roster(db, path, town_name=town.name)
    if not result.ok:  # the roster changed between check and apply: show the new problems
        return _page(result=result, town=town, file=kept.get("file"), preview="")
    path.unlink(missing_ok=True)
    session.pop(UPLOAD_KEY, None)
    log.info("roster imported on the web by %s for %s: %s", _by(), town.name, result.summary())
    flash(result.summary(), "ok")
    return redirect("/office/roster")


def _one_person(db: Session, who: str) -> Person | None:
    """The one active person named or numbered `who`, or None with the reason flashed."""
    people = find_people(db, who)
    if not people:
        flash(chat_texts.ROSTER_NOBODY.format(who=who), "error")
        return None
    if len(people) > 1:
        lines = [chat_texts.ROSTER_SEVERAL.format(count=len(people), who=who)]
        for person in people:
            place = db.get(Place, person.place_id)
            lines.append(
                chat_texts.ROSTER_SEVERAL_LINE.format(
                    name=person.name, phone=person.phone, place=place.name if place else ""
                ).strip()
            )
        flash(" ".join(lines), "error")
        return None
    return people[0]


@blueprint.post("/office/roster/invite")
@signed_in
def invite_code() -> Any:
    """A one-time 6-digit binding code for one person, shown once on the page."""
    office_person()
    who = (request.form.get("who") or "").strip()
    if not who:
        return redirect("/office/roster")
    moment = now()
    with unit_of_work(engine()) as db:
        person = _one_person(db, who)
        if person is None:
            return redirect("/office/roster")
        try:
            code, expires = invite(db, person, moment, move=bool(request.form.get("move")))
        except InviteRefused as refused:
            names = texts.ROLE_SEPARATOR.join(ROLE_NAMES[r] for r in Role if r in refused.roles)
            flash(
                chat_texts.ROSTER_INVITE_REPORTER.format(name=person.name, roles=names).split("\n")[
                    0
                ],
                "error",
            )
            return redirect("/office/roster")
        lines = [
            chat_texts.ROSTER_INVITE_CODE.format(name=person.name, phone=person.phone, code=code),
            chat_texts.ROSTER_INVITE_EXPIRES.format(expires=local(expires)),
            chat_texts.ROSTER_INVITE_HOW.format(code=code),
        ]
        if person.wechat_openid is not None:
            lines.append(chat_texts.ROSTER_INVITE_MOVES.format(name=person.name))
        person_id = person.id
    log.info("invite code made on the web by %s for person %s", _by(), person_id)
    return _page(invite_lines=lines, code=code)


@blueprint.post("/office/roster/unlock")
@signed_in
def unlock() -> Any:
    """Lift today's binding lock-out of a name or phone, as `roster unlock WHO` does."""
    office_person()
    who = (request.form.get("who") or "").strip()
    if not who:
        return redirect("/office/roster")
    with unit_of_work(engine()) as db:
        count = unlock_who(db, now(), who)
    label = chat_texts.ROSTER_UNLOCK_WHO.format(who=who)
    log.info("binding unlocked for %s: %d failures cleared (web, by %s)", label, count, _by())
    if count:
        flash(chat_texts.ROSTER_UNLOCKED.format(what=label, count=count), "ok")
    else:
        flash(chat_texts.ROSTER_NOTHING_LOCKED.format(what=label), "ok")
    return redirect("/office/roster")
