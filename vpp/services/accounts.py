"""Users, API tokens and logins.

Passwords are stored as werkzeug hashes (scrypt unless ``PASSWORD_HASH_METHOD``
says otherwise); API tokens as SHA-256 digests, since they are 256 random bits.
Both are shown once, when made. Failed logins are counted in the database, so that
every worker refuses a guesser alike. These functions do not commit.
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from marshmallow import ValidationError
from werkzeug.security import check_password_hash, generate_password_hash

from vpp.domain import ROLE_ADMIN, ROLES, USERNAME_MAX_LENGTH
from vpp.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from vpp.extensions import db
from vpp.models import ApiToken, LoginFailure, User
from vpp.schemas import TokenSchema, UserSchema
from vpp.services import audit

TOKEN_PREFIX = "vpp_"
# Failed logins allowed per window, per username and per client address.
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_FAILURES_PER_USER = 5
LOGIN_FAILURES_PER_ADDRESS = 20

_user_schema = UserSchema()
_token_schema = TokenSchema()


def _load(schema, data: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput.from_validation_error(exc, what) from exc


def new_password() -> str:
    return secrets.token_urlsafe(12)


def _hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def list_users() -> list[User]:
    return list(db.session.scalars(sa.select(User).order_by(User.username)))


def get_user(username: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return user


def create_user(username: str, role: str, password: str | None = None) -> tuple[User, str]:
    """Add a user; returns it and its password (generated when none is given)."""
    values = _load(_user_schema, {"username": username, "role": role}, "user")
    if db.session.scalar(sa.select(User.id).where(User.username == values["username"])):
        raise Conflict(f"A user named {values['username']!r} already exists.")
    password = password or new_password()
    user = User(
        username=values["username"], role=values["role"], password_hash=_hash_password(password)
    )
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", f"user:{user.username}", after={"role": user.role})
    return user, password


def set_role(username: str, role: str) -> User:
    user = get_user(username)
    values = _load(_user_schema, {"username": user.username, "role": role}, "user")
    if user.role == ROLE_ADMIN and values["role"] != ROLE_ADMIN:
        _keep_an_admin(user)
    before = user.role
    user.role = values["role"]
    audit.record(
        "user.role", f"user:{user.username}", before={"role": before}, after={"role": user.role}
    )
    return user


def set_password(username: str, password: str | None = None) -> str:
    user = get_user(username)
    password = password or new_password()
    user.password_hash = _hash_password(password)
    audit.record("user.password", f"user:{user.username}")
    return password


def delete_user(username: str) -> None:
    user = get_user(username)
    if user.role == ROLE_ADMIN:
        _keep_an_admin(user)
    audit.record("user.delete", f"user:{user.username}", before={"role": user.role})
    db.session.delete(user)


def _keep_an_admin(leaving: User) -> None:
    admins = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(User)
        .where(User.role == ROLE_ADMIN, User.id != leaving.id)
    )
    if not admins:
        raise Conflict("That would leave no admin: make another user admin first.")


def ensure_admin() -> str | None:
    """First run: when there is no user at all, create ``admin`` with a random
    password and return it (to be shown once). Otherwise return None."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(User)):
        return None
    _, password = create_user("admin", ROLE_ADMIN)
    return password


def authenticate(username: str, password: str, remote_addr: str) -> User | None:
    """The user whose password this is, or None (the failure is recorded: commit
    it). ``TooManyRequests``, without even checking, when this name or address has
    failed too often lately."""
    username = (username or "").strip().lower()[:USERNAME_MAX_LENGTH]
    remote_addr = (remote_addr or "unknown")[:64]
    since = datetime.now(UTC) - LOGIN_WINDOW
    recent = sa.select(sa.func.count()).select_from(LoginFailure).where(LoginFailure.at >= since)
    by_user = db.session.scalar(recent.where(LoginFailure.username == username))
    by_address = db.session.scalar(recent.where(LoginFailure.remote_addr == remote_addr))
    if by_user >= LOGIN_FAILURES_PER_USER or by_address >= LOGIN_FAILURES_PER_ADDRESS:
        minutes = int(LOGIN_WINDOW.total_seconds() // 60)
        raise TooManyRequests(f"Too many failed logins: try again in {minutes} minutes.")
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None or not check_password_hash(user.password_hash, password or ""):
        db.session.add(LoginFailure(username=username, remote_addr=remote_addr))
        return None
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.username == username))
    return user


def _digest(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def create_token(name: str, role: str, created_by: str) -> tuple[ApiToken, str]:
    """A new API token; returns it and the token itself (shown once, never stored)."""
    values = _load(_token_schema, {"name": name, "role": role}, "token")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=values["name"], role=values["role"], token_hash=_digest(raw), created_by=created_by
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "token.create", f"token:{token.id}", after={"name": token.name, "role": token.role}
    )
    return token, raw


def list_tokens() -> list[ApiToken]:
    return list(db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id)))


def revoke_token(token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"No API token with id {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        audit.record("token.revoke", f"token:{token.id}", before={"name": token.name})
    return token


def token_for(raw_token: str) -> ApiToken | None:
    """The live (not revoked) token with this value, if any."""
    if not raw_token.startswith(TOKEN_PREFIX):
        return None
    return db.session.scalar(
        sa.select(ApiToken).where(
            ApiToken.token_hash == _digest(raw_token), ApiToken.revoked_at.is_(None)
        )
    )


def has_role(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)
