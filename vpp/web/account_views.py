"""Logging in and out, and the admin pages: users, API tokens, the audit log."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from vpp.auth import acting, authorize, session_limits
from vpp.domain import ROLE_ADMIN
from vpp.errors import TooManyRequests
from vpp.routing import query_whole_number
from vpp.schemas import MAX_PAGE
from vpp.services import accounts, audit, pages
from vpp.transactions import transaction
from vpp.web.forms import ActionForm, LoginForm, RoleForm, TokenForm, UserForm
from vpp.web.submit import run_action, run_form

auth_bp = Blueprint("auth", __name__)
admin_bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE_SIZE = 50


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to somewhere else."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.dashboard")


@auth_bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        username = accounts.normalise_username(form.username.data)
        address = request.remote_addr or "unknown"
        # Counted (and committed) before the password is checked: parallel guesses
        # cannot all slip under the limit.
        try:
            with transaction():
                accounts.reserve_login_attempt(username, address)
        except TooManyRequests as exc:
            # The form again, with when to try again (not a bare error page).
            form.attach_errors({"_schema": [exc.message]})
            return render_template("login.html", form=form), 429
        user = accounts.verify_password(username, form.password.data)
        if user is not None:
            with transaction():
                accounts.forgive_login_attempt(username, address)
                # Sessions that ended by age are dropped here, so the table holds
                # only sessions that can still be used.
                accounts.purge_expired_sessions(*session_limits())
                accounts.start_session(user)
            # A new session from a clean slate: nothing planted before the login (a
            # CSRF token, say) survives it.
            session.clear()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        form.attach_errors({"_schema": ["Wrong username or password."]})
        status = 401
    elif form.is_submitted():
        status = 400
    return render_template("login.html", form=form), status


@auth_bp.post("/logout")
def logout():
    if ActionForm().validate_on_submit():
        with transaction():
            accounts.end_session(getattr(current_user, "session_key", None))
        logout_user()
        session.clear()
        flash("Logged out.", "success")
    return redirect(url_for("auth.login"))


@admin_bp.before_request
def admins_only() -> None:
    authorize(ROLE_ADMIN)


def _render_users(user_form: UserForm | None = None, status: int = 200, shown_password=None):
    return render_template(
        "admin_users.html",
        users=accounts.list_users(),
        user_form=user_form or UserForm(formdata=None),
        role_form=RoleForm(formdata=None),
        action_form=ActionForm(formdata=None),
        shown_password=shown_password,
    ), status


@admin_bp.get("/users")
def users():
    return _render_users()


@admin_bp.post("/users")
def add_user():
    form = UserForm()
    outcome = run_form(
        form,
        lambda: accounts.create_user(form.username.data or "", form.role.data, actor=acting()),
        field="username",
    )
    if outcome.done:
        user, password = outcome.result
        # Shown on this page once; it is stored only as a hash.
        return _render_users(shown_password=(user.username, password))
    return _render_users(user_form=form, status=422)


@admin_bp.post("/users/<username>/role")
def change_role(username: str):
    form = RoleForm()
    run_action(
        form,
        lambda: accounts.set_role(username, form.role.data, actor=acting()),
        lambda _: f"{username} is now a {form.role.data}.",
    )
    return redirect(url_for("admin.users"))


@admin_bp.post("/users/<username>/password")
def reset_password(username: str):
    if ActionForm().validate_on_submit():
        with transaction():
            password = accounts.set_password(username, actor=acting())
        return _render_users(shown_password=(username, password))
    return redirect(url_for("admin.users"))


@admin_bp.post("/users/<username>/delete")
def delete_user(username: str):
    run_action(
        ActionForm(),
        lambda: accounts.delete_user(username, actor=acting()),
        lambda _: f"Deleted user {username}.",
    )
    return redirect(url_for("admin.users"))


def _render_tokens(form: TokenForm | None = None, status: int = 200, shown_token=None):
    return render_template(
        "admin_tokens.html",
        tokens=accounts.list_tokens(),
        form=form or TokenForm(formdata=None),
        action_form=ActionForm(formdata=None),
        shown_token=shown_token,
    ), status


@admin_bp.get("/tokens")
def tokens():
    return _render_tokens()


@admin_bp.post("/tokens")
def add_token():
    form = TokenForm()
    outcome = run_form(
        form,
        lambda: accounts.create_token(form.name.data or "", form.role.data, created_by=acting()),
        field="name",
    )
    if outcome.done:
        return _render_tokens(shown_token=outcome.result)
    return _render_tokens(form=form, status=422)


@admin_bp.post("/tokens/<id:token_id>/revoke")
def revoke_token(token_id: int):
    run_action(
        ActionForm(),
        lambda: accounts.revoke_token(token_id, actor=acting()),
        lambda t: f"Revoked token {t.name!r}.",
    )
    return redirect(url_for("admin.tokens"))


@admin_bp.get("/audit")
def audit_log():
    page = query_whole_number(request.args.get("page"), 1, MAX_PAGE) or 1
    known = audit.actions()
    action = request.args.get("action") if request.args.get("action") in known else None
    actor = (request.args.get("actor") or "").strip()[:120] or None
    items, total = audit.list_events(page, AUDIT_PAGE_SIZE, action=action, actor=actor)
    events = [audit.event_as_dict(e) for e in items]
    for event in events:
        event["changes"] = audit.changes(event["before"], event["after"])
    return render_template(
        "admin_audit.html",
        events=events,
        page=page,
        pages=pages.page_count(total, AUDIT_PAGE_SIZE),
        total=total,
        actions=known,
        action=action,
        actor=actor,
        audit_args={k: v for k, v in (("action", action), ("actor", actor)) if v},
    )
