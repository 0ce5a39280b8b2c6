"""One-time sign-in codes for the web pages, sent to a person's bound WeChat; only hashes kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlmodel import Field, Session, SQLModel, col, func, select

from models.base import utc_column

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
MAX_TRIES = 5  # wrong codes typed against one issued code before it is spent
MAX_CODES_PER_HOUR = 5  # codes one person is sent in an hour: no flooding their WeChat


class SignInCode(SQLModel, table=True):
    """A code issued to one person for one sign-in; spent when used, expired or guessed at."""

    __tablename__ = "sign_in_code"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    code_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    tries: int = 0
    used_at: datetime | None = Field(default=None, sa_column=utc_column())


def _digest(secret: str, code: str) -> str:
    return hmac.new(secret.encode(), code.encode(), hashlib.sha256).hexdigest()


def issue_code(session: Session, person_id: int, secret: str, now: datetime) -> str | None:
    """A fresh code for the person (earlier unused ones stop working); None past the limit."""
    recent = session.exec(
        select(func.count())
        .select_from(SignInCode)
        .where(
            SignInCode.person_id == person_id, col(SignInCode.created_at) > now - timedelta(hours=1)
        )
    ).one()
    if recent >= MAX_CODES_PER_HOUR:
        return None
    for old in session.exec(
        select(SignInCode).where(
            SignInCode.person_id == person_id, col(SignInCode.used_at).is_(None)
        )
    ):
        old.used_at = now
        session.add(old)
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    session.add(
        SignInCode(
            person_id=person_id,
            code_hash=_digest(secret, code),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    session.flush()
    return code


def redeem_code(session: Session, person_id: int, code: str, secret: str, now: datetime) -> bool:
    """Spend the person's live code if `code` is it; a wrong one counts against the code."""
    live = session.exec(
        select(SignInCode)
        .where(
            SignInCode.person_id == person_id,
            col(SignInCode.used_at).is_(None),
            col(SignInCode.expires_at) > now,
        )
        .order_by(col(SignInCode.id).desc())
    ).first()
    if live is None:
        return False
    if hmac.compare_digest(live.code_hash, _digest(secret, code.strip())):
        live.used_at = now
        session.add(live)
        return True
    live.tries += 1
    if live.tries >= MAX_TRIES:
        live.used_at = now
    session.add(live)
    return False
