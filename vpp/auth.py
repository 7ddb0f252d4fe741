"""Who is asking, and may they? Browser sessions (Flask-Login) and API bearer
tokens, three roles (viewer < operator < admin).

* ``/api``: a bearer token (``Authorization: Bearer vpp_...``) or a logged-in
  session; anonymous requests get 401 JSON, a role too weak 403 JSON. Reads need
  a viewer, writes an operator (a dispatch preview is a read), ``/api/audit/`` an
  admin. Each API blueprint states its needs (``vpp.api.common``).
* Pages: anonymous visitors are sent to the login page; posting a form needs an
  operator, the admin pages an admin.
* ``/healthz``, ``/login``, ``/api/openapi.json`` and static files are open.

A browser session is a row in ``user_session`` whose key the signed cookie holds
(``vpp.models.UserSession``): logging out deletes the row, and so do a new
password and deleting the user; a session also ends after ``SESSION_IDLE_MINUTES``
unused or ``SESSION_MAX_HOURS`` after the login.

Every write names who acts (``acting()``) to the service it calls, for the audit log.
"""

from datetime import timedelta

from flask import Flask, current_app, g, redirect, request, url_for
from sqlalchemy.exc import DBAPIError

from vpp.domain import ROLE_VIEWER
from vpp.errors import Conflict, Forbidden, Unauthorized
from vpp.extensions import login_manager
from vpp.http_errors import wants_json
from vpp.models import ApiToken, User
from vpp.services import accounts
from vpp.transactions import database_unavailable, transaction

# The OpenAPI document describes the API and holds no data: integrators read it
# before they have a token.
OPEN_ENDPOINTS = frozenset({"static", "health.healthz", "auth.login", "api-docs.openapi_json"})
PAGE_ENDPOINTS_UNDER_API = frozenset({"api_docs.api_docs"})


# How often a session's last use is written down (see ``accounts.touch_session``).
SESSION_TOUCH_EVERY = timedelta(minutes=1)


def session_limits() -> tuple[timedelta, timedelta]:
    """(idle, longest): a session ends after this long unused, or this long after
    the login, whichever comes first."""
    config = current_app.config
    return (
        timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
        timedelta(hours=config["SESSION_MAX_HOURS"]),
    )


@login_manager.user_loader
def load_user(session_key: str) -> User | None:
    """The user of an open session, or None. The cookie carries a session key, not a
    user id: a key whose row has gone (logout, a new password, a deleted user) or
    has expired opens nothing, even though the cookie is still validly signed."""
    found = accounts.session_user(session_key, *session_limits())
    if found is None:
        return None
    user, row = found
    try:
        with transaction():
            accounts.touch_session(row, SESSION_TOUCH_EVERY)
    except Conflict:
        pass  # logged out at this very moment: the next request finds no session
    except DBAPIError as exc:
        if not database_unavailable(exc):
            raise
        # A database that cannot be written still serves reads; the session's last
        # use is written down on a later request.
    return user


def current_principal() -> User | ApiToken | None:
    """The API token sent with this request, else the logged-in user, else None."""
    if "vpp_principal" not in g:
        principal = None
        header = request.headers.get("Authorization", "")
        if wants_json() and header[:7].lower() == "bearer ":
            principal = accounts.token_for(header[7:].strip())
            if principal is None:
                raise Unauthorized("The API token is unknown or revoked.")
        else:
            from flask_login import current_user

            if current_user.is_authenticated:
                principal = current_user._get_current_object()
        g.vpp_principal = principal
    return g.vpp_principal


def acting() -> str:
    """Who acts in this request, as the audit log names them (``user:NAME``,
    ``token:NAME (#ID)``): the doors tell the services, which never look it up."""
    principal = current_principal()
    if principal is None:
        raise Unauthorized("Log in, or send an API token as 'Authorization: Bearer <token>'.")
    return principal.actor


def authorize(needed_role: str) -> User | ApiToken:
    """The principal, if it holds ``needed_role`` or a stronger one; else 401/403."""
    principal = current_principal()
    if principal is None:
        raise Unauthorized("Log in, or send an API token as 'Authorization: Bearer <token>'.")
    if not accounts.has_role(principal.role, needed_role):
        raise Forbidden(
            f"This needs the {needed_role} role; {principal.actor} is a {principal.role}."
        )
    return principal


def guard_every_request():
    """The app-wide rule: everything but the open endpoints needs a viewer at least.
    Pages send anonymous visitors to the login page instead of answering 401."""
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    is_api = wants_json() and request.endpoint not in PAGE_ENDPOINTS_UNDER_API
    if not is_api and current_principal() is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    authorize(ROLE_VIEWER)
    return None


def register_auth(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    app.before_request(guard_every_request)

    @app.context_processor
    def principal_in_templates():
        principal = g.get("vpp_principal")
        return {
            "principal": principal,
            "can_operate": principal is not None and accounts.has_role(principal.role, "operator"),
            "is_admin": principal is not None and accounts.has_role(principal.role, "admin"),
        }
