"""Sessions that really end, and accounts that hold under attack: each test logs in
through the real login form of a gunicorn server and replays what an attacker kept
(a copied cookie, a planted CSRF token)."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.helpers import PASSWORDS, bearer, csrf_token
from tests.live_server import Browser
from vpp.extensions import db
from vpp.models import ApiToken, User, UserSession
from vpp.services import accounts
from vpp.transactions import transaction


def _create_user(app, username: str, role: str, password: str) -> int:
    with app.app_context(), transaction():
        return accounts.create_user(username, role, password, actor="tests")[0].id


def _is_logged_in(response) -> bool:
    """A page answers 200 to a session, and redirects anyone else to the login."""
    return response.status_code == 200


def test_a_deleted_users_cookie_never_opens_the_next_users_account(app, server):
    mallory_id = _create_user(app, "mallory", "viewer", "mallory-password")
    browser = Browser(server.port)
    assert browser.login("mallory", "mallory-password").status_code == 302
    kept = browser.cookies()
    assert _is_logged_in(browser.replay(kept, "GET", "/"))

    with app.app_context(), transaction():
        accounts.delete_user("mallory", actor="tests")
    alice_id = _create_user(app, "alice", "admin", "alice-password")

    # Ids are never handed out twice, and the cookie names a session, not an id.
    assert alice_id != mallory_id
    answer = browser.replay(kept, "GET", "/admin/users")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert browser.replay(kept, "GET", "/api/plants/").status_code == 401


def test_logout_ends_the_session_for_every_copy_of_the_cookie(app, server):
    browser = Browser(server.port)
    assert browser.login("operator").status_code == 302
    kept = browser.cookies()
    token = browser.csrf_token("/")
    assert browser.post_form("/logout", {}, token).status_code == 302

    assert browser.replay(kept, "GET", "/").status_code == 302
    created = browser.replay(kept, "POST", "/api/plants/", json={"name": "x", "max_capacity": 1})
    assert created.status_code == 401
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == 0


def test_a_new_password_ends_every_session_of_that_user(app, server):
    first, second = Browser(server.port), Browser(server.port)
    assert first.login("viewer").status_code == 302
    assert second.login("viewer").status_code == 302
    other = Browser(server.port)
    assert other.login("operator").status_code == 302

    with app.app_context(), transaction():
        accounts.set_password("viewer", "a-brand-new-password", actor="tests")

    assert first.get("/").status_code == 302
    assert second.get("/").status_code == 302
    assert _is_logged_in(other.get("/"))  # someone else's session is untouched


def test_a_session_ends_when_idle_too_long_or_too_old(app, server):
    browser = Browser(server.port)
    assert browser.login("viewer").status_code == 302
    assert _is_logged_in(browser.get("/"))
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    with app.app_context(), transaction():
        db.session.execute(
            sa.update(UserSession).values(last_seen_at=datetime.now(UTC) - idle - timedelta(1))
        )
    assert browser.get("/").status_code == 302

    assert browser.login("viewer").status_code == 302
    longest = timedelta(hours=app.config["SESSION_MAX_HOURS"])
    with app.app_context(), transaction():
        db.session.execute(
            sa.update(UserSession).values(created_at=datetime.now(UTC) - longest - timedelta(1))
        )
    assert browser.get("/").status_code == 302


def test_a_csrf_token_planted_before_login_is_dead_after_it(app, server):
    browser = Browser(server.port)
    planted = browser.csrf_token("/login")  # what an attacker could have fixed
    assert browser.login("operator").status_code == 302

    refused = browser.post_form("/logout", {}, planted)
    assert refused.status_code == 400
    assert _is_logged_in(browser.get("/"))  # the forged logout did nothing
    assert browser.post_form("/logout", {}, browser.csrf_token("/")).status_code == 302


def test_every_login_attempt_checks_exactly_one_hash_of_the_configured_method(
    app, anonymous_client, monkeypatch
):
    """An unknown name costs what a known name with a wrong password costs, so the
    time of the answer does not tell which names exist."""
    checked: list[str] = []
    real_check = accounts.check_password_hash

    def counting_check(stored: str, password: str) -> bool:
        checked.append(stored.split("$", 1)[0])
        return real_check(stored, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting_check)
    method = app.config["PASSWORD_HASH_METHOD"]
    for username in ("viewer", "no-such-user"):
        checked.clear()
        token = csrf_token(anonymous_client, "/login")
        answer = anonymous_client.post(
            "/login", data={"username": username, "password": "wrong", "csrf_token": token}
        )
        assert answer.status_code == 401
        assert checked == [method], username


def test_tokens_die_with_the_admin_who_made_them(app, client):
    _create_user(app, "admin2", "admin", "admin2-password")
    with app.app_context(), transaction():
        maker = accounts.get_user("admin2")
        _, demoted_maker_token = accounts.create_token("scada", "operator", maker.actor)
        _, deleted_maker_token = accounts.create_token("meter", "viewer", maker.actor)
        _, cli_token = accounts.create_token("script", "viewer", "cli:root")

    def works(token: str) -> bool:
        headers = {"Authorization": f"Bearer {token}"}
        return client.get("/api/aggregate/", headers=headers).status_code == 200

    assert works(demoted_maker_token) and works(cli_token)
    with app.app_context(), transaction():
        accounts.set_role("admin2", "operator", actor="tests")
    assert not works(demoted_maker_token)
    assert not works(deleted_maker_token)  # every token of a demoted maker
    assert works(cli_token)

    with app.app_context(), transaction():
        accounts.set_role("admin2", "admin", actor="tests")
        _, later_token = accounts.create_token("later", "viewer", accounts.get_user("admin2").actor)
    assert works(later_token)
    with app.app_context(), transaction():
        accounts.delete_user("admin2", actor="tests")
    assert not works(later_token)
    assert works(cli_token)
    with app.app_context():
        revoked = db.session.scalars(
            sa.select(ApiToken.name).where(ApiToken.revoked_at.is_not(None))
        ).all()
        assert sorted(revoked) == ["later", "meter", "scada"]


@pytest.mark.parametrize("path", ["/", "/admin/tokens", "/admin/users", "/api/plants/"])
def test_authenticated_answers_are_never_cached(client, app, path):
    response = client.get(path, headers=bearer(app, "admin") if path.startswith("/api") else {})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_a_page_showing_a_new_token_is_not_cached(client):
    token = csrf_token(client, "/admin/tokens")
    shown = client.post(
        "/admin/tokens", data={"name": "fresh", "role": "viewer", "csrf_token": token}
    )
    assert shown.status_code == 200 and "vpp_" in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(client):
    with client.get("/static/css/vpp.css") as response:
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("Cache-Control", "")


def test_user_ids_are_never_reused(app):
    first = _create_user(app, "temp", "viewer", "temp-password")
    with app.app_context(), transaction():
        accounts.delete_user("temp", actor="tests")
    second = _create_user(app, "temp", "viewer", "temp-password")
    assert second > first
    with app.app_context():
        assert db.session.get(User, first) is None


def test_login_with_the_right_password_still_works(anonymous_client):
    token = csrf_token(anonymous_client, "/login")
    answer = anonymous_client.post(
        "/login",
        data={"username": "viewer", "password": PASSWORDS["viewer"], "csrf_token": token},
    )
    assert answer.status_code == 302
    assert anonymous_client.get("/").status_code == 200


def test_sessions_that_ended_by_age_are_dropped_at_the_next_login(app, anonymous_client):
    from tests.helpers import PASSWORDS, csrf_token

    with app.app_context(), transaction():
        accounts.start_session(accounts.get_user("viewer"))
        db.session.execute(
            sa.update(UserSession).values(last_seen_at=datetime.now(UTC) - timedelta(days=2))
        )
    anonymous_client.post(
        "/login",
        data={
            "username": "admin",
            "password": PASSWORDS["admin"],
            "csrf_token": csrf_token(anonymous_client, "/login"),
        },
    )
    with app.app_context():
        left = db.session.scalars(sa.select(UserSession.user_id)).all()
        assert left == [accounts.get_user("admin").id]  # only the new, open one
