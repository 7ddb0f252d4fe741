"""Users, API tokens and logins.

Passwords are stored as werkzeug hashes (scrypt unless ``PASSWORD_HASH_METHOD``
says otherwise); API tokens and browser session keys as SHA-256 digests, since
they are 256 random bits. Secrets are shown once, when made. Login attempts are
counted in the database, so that every worker refuses a guesser alike. These
functions do not commit.
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
from vpp.models import ApiToken, LoginThrottle, User, UserSession, UtcDateTime
from vpp.schemas import TokenSchema, UserSchema
from vpp.services import audit, pages

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


def create_user(
    username: str, role: str, password: str | None = None, *, actor: str
) -> tuple[User, str]:
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
    audit.record("user.create", f"user:{user.username}", after={"role": user.role}, actor=actor)
    return user, password


def _lock_admins() -> None:
    """Serialise every change that could remove an admin. On PostgreSQL the admins'
    rows are locked (``FOR UPDATE``) until the transaction ends; SQLite has no row
    locks, but its single writer gives the same order once the change is written,
    which is why ``_check_an_admin_remains`` counts *after* the change is flushed."""
    db.session.execute(
        sa.select(User.id).where(User.role == ROLE_ADMIN).order_by(User.id).with_for_update()
    )


def _check_an_admin_remains() -> None:
    """Count the admins after this transaction's change, inside its write lock: two
    admins demoting each other at the same moment cannot both pass."""
    db.session.flush()
    admins = db.session.scalar(
        sa.select(sa.func.count()).select_from(User).where(User.role == ROLE_ADMIN)
    )
    if not admins:
        raise Conflict("That would leave no admin: make another user admin first.")


def set_role(username: str, role: str, *, actor: str) -> User:
    """Change a user's role. An admin who stops being one loses the API tokens they
    made (see ``revoke_tokens_made_by``); the last admin cannot stop being one."""
    values = _load(_user_schema, {"username": username, "role": role}, "user")
    _lock_admins()
    user = get_user(username)
    before = user.role
    user.role = values["role"]
    if before == ROLE_ADMIN and user.role != ROLE_ADMIN:
        _check_an_admin_remains()
        revoke_tokens_made_by(user, "its maker is no longer an admin", actor=actor)
    audit.record(
        "user.role",
        f"user:{user.username}",
        before={"role": before},
        after={"role": user.role},
        actor=actor,
    )
    return user


def set_password(username: str, password: str | None = None, *, actor: str) -> str:
    """Give a user a new password (generated when none is given) and end every
    session they have: whoever held an old one must log in again."""
    user = get_user(username)
    password = password or new_password()
    user.password_hash = _hash_password(password)
    end_sessions_of(user)
    audit.record("user.password", f"user:{user.username}", actor=actor)
    return password


def delete_user(username: str, *, actor: str) -> None:
    """Delete a user with their sessions and the API tokens they made; never the
    last admin."""
    _lock_admins()
    user = get_user(username)
    audit.record("user.delete", f"user:{user.username}", before={"role": user.role}, actor=actor)
    revoke_tokens_made_by(user, "its maker was deleted", actor=actor)
    db.session.delete(user)
    if user.role == ROLE_ADMIN:
        _check_an_admin_remains()


def ensure_admin(*, actor: str) -> str | None:
    """First run: when there is no user at all, create ``admin`` with a random
    password and return it (to be shown once). Otherwise return None. Two of these
    racing on an empty database: one creates the user, the other's commit fails on
    the unique name (``Conflict``), which the caller can take as "done already"."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(User)):
        return None
    _, password = create_user("admin", ROLE_ADMIN, actor=actor)
    return password


# --- sessions --------------------------------------------------------------------


def start_session(user: User) -> str:
    """Open a browser session for ``user``: returns its key (for the cookie; only a
    digest is stored) and sets it as ``user.session_key``. Does not commit."""
    key = secrets.token_urlsafe(32)
    db.session.add(UserSession(key_hash=_digest(key), user_id=user.id))
    user.session_key = key
    return key


def session_user(key: str, idle: timedelta, longest: timedelta) -> tuple[User, UserSession] | None:
    """The user and session row behind a session key, if the session is still open:
    not ended, used within ``idle``, younger than ``longest``."""
    row = db.session.scalar(sa.select(UserSession).where(UserSession.key_hash == _digest(key)))
    if row is None:
        return None
    now = datetime.now(UTC)
    if row.last_seen_at < now - idle or row.created_at < now - longest:
        return None
    row.user.session_key = key
    return row.user, row


def touch_session(row: UserSession, every: timedelta) -> bool:
    """Record that a session is in use, at most once per ``every`` (a write per
    request would serialise every page view on SQLite). Returns whether it wrote;
    does not commit."""
    now = datetime.now(UTC)
    if row.last_seen_at >= now - every:
        return False
    db.session.execute(
        sa.update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now)
    )
    return True


def end_session(key: str | None) -> None:
    """Log one session out: its key no longer opens anything. Does not commit."""
    if key:
        db.session.execute(sa.delete(UserSession).where(UserSession.key_hash == _digest(key)))


def end_sessions_of(user: User) -> None:
    db.session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id))


def purge_expired_sessions(idle: timedelta, longest: timedelta) -> int:
    now = datetime.now(UTC)
    result = db.session.execute(
        sa.delete(UserSession).where(
            (UserSession.last_seen_at < now - idle) | (UserSession.created_at < now - longest)
        )
    )
    return result.rowcount


# --- logins ----------------------------------------------------------------------


def normalise_username(username: str | None) -> str:
    return (username or "").strip().lower()[:USERNAME_MAX_LENGTH]


def _count_attempt(key: str, now: datetime) -> int:
    """Add one attempt to ``key``'s window (a new window once the old one is over) in
    a single atomic upsert, and return the attempts in the window, this one included.
    Concurrent attempts each get a different count: SQLite's single writer and
    PostgreSQL's row lock on the conflicting key order them."""
    table = LoginThrottle.__table__
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now_value = sa.literal(now, UtcDateTime())
    expired = table.c.window_start < now - LOGIN_WINDOW
    statement = (
        insert(table)
        .values(key=key, attempts=1, window_start=now)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "attempts": sa.case((expired, 1), else_=table.c.attempts + 1),
                "window_start": sa.case((expired, now_value), else_=table.c.window_start),
            },
        )
        .returning(table.c.attempts)
    )
    return db.session.execute(statement).scalar_one()


def _throttle_keys(username: str, remote_addr: str) -> tuple[str, str]:
    return f"user:{username}", f"addr:{(remote_addr or 'unknown')[:64]}"


def reserve_login_attempt(username: str, remote_addr: str) -> None:
    """Count a login attempt against the name and the client address *before* its
    password is checked; ``TooManyRequests`` when either has had its fill in the
    window. Commit this before checking the password, so that parallel guesses each
    see the others. Also drops windows that are over (the table stays small under a
    password-spraying attack). Does not commit."""
    now = datetime.now(UTC)
    db.session.execute(
        sa.delete(LoginThrottle).where(LoginThrottle.window_start < now - LOGIN_WINDOW)
    )
    user_key, address_key = _throttle_keys(username, remote_addr)
    by_user = _count_attempt(user_key, now)
    by_address = _count_attempt(address_key, now)
    if by_user > LOGIN_FAILURES_PER_USER or by_address > LOGIN_FAILURES_PER_ADDRESS:
        minutes = int(LOGIN_WINDOW.total_seconds() // 60)
        raise TooManyRequests(f"Too many failed logins: try again in {minutes} minutes.")


def forgive_login_attempt(username: str, remote_addr: str) -> None:
    """A successful login: the name's count starts afresh, and the address gets back
    the attempt this login used. Does not commit."""
    user_key, address_key = _throttle_keys(username, remote_addr)
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == user_key))
    db.session.execute(
        sa.update(LoginThrottle)
        .where(LoginThrottle.key == address_key, LoginThrottle.attempts > 0)
        .values(attempts=LoginThrottle.attempts - 1)
    )


_dummy_hashes: dict[str, str] = {}


def _dummy_hash(method: str) -> str:
    """A hash of nothing anyone knows, made with the configured method, to check an
    unknown user's password against: a wrong name costs as long as a wrong password,
    so the time of an answer does not tell which names exist."""
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _dummy_hashes[method]


def verify_password(username: str, password: str) -> User | None:
    """The user whose password this is, or None. Exactly one password hash is
    checked either way. Reads only: count the attempt first
    (``reserve_login_attempt``)."""
    user = db.session.scalar(sa.select(User).where(User.username == username))
    method = current_app.config["PASSWORD_HASH_METHOD"]
    stored = user.password_hash if user is not None else _dummy_hash(method)
    if check_password_hash(stored, password or "") and user is not None:
        return user
    return None


def _digest(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def create_token(name: str, role: str, created_by: str) -> tuple[ApiToken, str]:
    """A new API token made by ``created_by`` (an actor, audited as making it);
    returns it and the token itself (shown once, never stored)."""
    values = _load(_token_schema, {"name": name, "role": role}, "token")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=values["name"], role=values["role"], token_hash=_digest(raw), created_by=created_by
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "token.create",
        f"token:{token.id}",
        after={"name": token.name, "role": token.role},
        actor=created_by,
    )
    return token, raw


def list_tokens() -> list[ApiToken]:
    return list(db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id)))


def revoke_token(token_id: int, *, actor: str) -> ApiToken:
    token = pages.get_or_not_found(ApiToken, token_id, "API token")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        audit.record("token.revoke", f"token:{token.id}", before={"name": token.name}, actor=actor)
    return token


def revoke_tokens_made_by(user: User, why: str, *, actor: str) -> None:
    """The rule for tokens: one made by a user lives only as long as its maker is an
    admin; deleting or demoting that user revokes it (audited, with ``why``). Tokens
    made from the CLI (``cli:NAME``) belong to whoever runs the server and live until
    revoked. Does not commit."""
    live = db.session.scalars(
        sa.select(ApiToken).where(ApiToken.created_by == user.actor, ApiToken.revoked_at.is_(None))
    )
    now = datetime.now(UTC)
    for token in live:
        token.revoked_at = now
        audit.record(
            "token.revoke",
            f"token:{token.id}",
            before={"name": token.name},
            after={"why": why},
            actor=actor,
        )


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
