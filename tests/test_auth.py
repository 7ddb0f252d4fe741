"""Who may do what: roles, logins, API tokens, the first-run admin, the audit log."""

import json
import re

import pytest

from tests.helpers import PASSWORDS, add_plants, bearer, client_as, csrf_token, fleet_snapshot
from vpp.extensions import db
from vpp.models import User


def log_in(client, username: str, password: str, next_url: str | None = None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(
        url,
        data={
            "csrf_token": csrf_token(client, "/login"),
            "username": username,
            "password": password,
        },
    )


# --- the API: 401 anonymous, 403 too weak -------------------------------------------

API_CALLS = [
    ("get", "/api/plants/", None),
    ("post", "/api/plants/", {"name": "X", "max_capacity": 1}),
    ("get", "/api/plants/1", None),
    ("patch", "/api/plants/1", {"status": "down"}),
    ("delete", "/api/plants/1", None),
    ("get", "/api/aggregate/", None),
    ("post", "/api/dispatch/", {"demand": 1}),
    ("post", "/api/dispatches/", {"demand": 1}),
    ("get", "/api/dispatches/", None),
    ("get", "/api/audit/", None),
    ("get", "/api/dispatches/1/plants/", None),
    ("get", "/api/no-such-thing", None),
]


def test_the_openapi_document_is_open_and_holds_no_data(app, anonymous_client):
    """Integrators read the contract before they hold a token; it describes the API
    and says how to authenticate, and holds nothing of the fleet."""
    add_plants(app, {"name": "Secret site", "max_capacity": 5})
    response = anonymous_client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "Secret site" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "url", "body"), API_CALLS)
def test_anonymous_api_requests_get_401_json_and_change_nothing(
    app, anonymous_client, method, url, body
):
    add_plants(app, {"name": "A", "max_capacity": 5})
    before = fleet_snapshot(app)
    response = getattr(anonymous_client, method)(url, json=body)
    assert response.status_code == 401
    assert response.is_json and "error" in response.json
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert fleet_snapshot(app) == before


@pytest.mark.parametrize("token", ["nonsense", "vpp_" + "x" * 43, ""])
def test_unknown_token_is_401(app, anonymous_client, token):
    response = anonymous_client.get("/api/plants/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


# (role, method, url, body) -> allowed?
ROLE_MATRIX = [
    ("viewer", "get", "/api/plants/", None, True),
    ("viewer", "post", "/api/dispatch/", {"demand": 1}, True),  # a preview reads only
    ("viewer", "post", "/api/plants/", {"name": "X", "max_capacity": 1}, False),
    ("viewer", "patch", "/api/plants/1", {"status": "down"}, False),
    ("viewer", "delete", "/api/plants/1", None, False),
    ("viewer", "post", "/api/dispatches/", {"demand": 1}, False),
    ("viewer", "get", "/api/audit/", None, False),
    ("operator", "post", "/api/plants/", {"name": "X", "max_capacity": 1}, True),
    ("operator", "patch", "/api/plants/1", {"status": "down"}, True),
    ("operator", "post", "/api/dispatches/", {"demand": 1}, True),
    ("operator", "get", "/api/audit/", None, False),
    ("admin", "get", "/api/audit/", None, True),
    ("admin", "delete", "/api/plants/1", None, True),
]


@pytest.mark.parametrize(("role", "method", "url", "body", "allowed"), ROLE_MATRIX)
def test_roles_with_tokens(app, anonymous_client, role, method, url, body, allowed):
    add_plants(app, {"name": "A", "max_capacity": 5})
    before = fleet_snapshot(app)
    response = getattr(anonymous_client, method)(url, json=body, headers=bearer(app, role))
    if allowed:
        assert response.status_code < 300, response.json
    else:
        assert response.status_code == 403
        assert "needs the" in response.json["error"]
        assert fleet_snapshot(app) == before


def test_a_revoked_token_stops_working_at_once(app, client, anonymous_client):
    headers = bearer(app, "operator")
    assert anonymous_client.get("/api/plants/", headers=headers).status_code == 200
    with app.app_context():
        from vpp.models import ApiToken

        token_id = db.session.scalar(db.select(ApiToken.id).where(ApiToken.role == "operator"))
    token = csrf_token(client, "/admin/tokens")
    assert (
        client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": token}).status_code
        == 302
    )
    assert anonymous_client.get("/api/plants/", headers=headers).status_code == 401


def test_tokens_are_stored_hashed(app):
    with app.app_context():
        from vpp.models import ApiToken

        stored = [t.token_hash for t in db.session.scalars(db.select(ApiToken))]
    for raw in app.test_tokens.values():
        assert raw not in stored and all(raw not in h for h in stored)


# --- the pages -------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/dispatches", "/plants/1/edit", "/api/docs", "/admin/users"])
def test_anonymous_pages_redirect_to_login(anonymous_client, url):
    response = anonymous_client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("url", ["/healthz", "/login", "/static/vendor/pico.min.css"])
def test_some_things_are_open(anonymous_client, url):
    response = anonymous_client.get(url)
    assert response.status_code == 200
    response.close()


def test_login_then_logout(app, anonymous_client):
    response = log_in(anonymous_client, "operator", PASSWORDS["operator"], next_url="/dispatches")
    assert response.status_code == 302 and response.headers["Location"] == "/dispatches"
    assert anonymous_client.get("/").status_code == 200
    token = csrf_token(anonymous_client, "/")
    anonymous_client.post("/logout", data={"csrf_token": token})
    assert anonymous_client.get("/").status_code == 302


def test_login_never_redirects_off_site(anonymous_client):
    response = log_in(anonymous_client, "viewer", PASSWORDS["viewer"], next_url="//evil.example/x")
    assert response.headers["Location"] == "/"


def test_wrong_password_is_refused_and_guessing_is_throttled(app, anonymous_client):
    for _ in range(5):
        response = log_in(anonymous_client, "admin", "guess")
        assert response.status_code == 401
        assert "Wrong username or password" in response.get_data(as_text=True)
    # The sixth try is refused without even checking, right password or not.
    response = log_in(anonymous_client, "admin", PASSWORDS["admin"])
    assert response.status_code == 429
    assert "Too many failed logins" in response.get_data(as_text=True)
    # Other users are not locked out by it.
    assert log_in(app.test_client(), "viewer", PASSWORDS["viewer"]).status_code == 302


def test_passwords_are_stored_hashed(app):
    with app.app_context():
        hashes = [u.password_hash for u in db.session.scalars(db.select(User))]
    assert all(h.startswith("pbkdf2:") for h in hashes)  # scrypt outside the tests
    assert not any(p in h for p in PASSWORDS.values() for h in hashes)


def test_viewer_sees_no_forms_and_cannot_post(app):
    add_plants(app, {"name": "A", "max_capacity": 5})
    viewer = client_as(app, "viewer")
    page = viewer.get("/").get_data(as_text=True)
    assert 'id="add-heading"' not in page and "Edit A" not in page
    assert "Dispatch and record" not in page and 'id="demand-slider"' in page
    before = fleet_snapshot(app)
    token = csrf_token(viewer, "/")
    response = viewer.post("/plants", data={"csrf_token": token, "name": "X", "max_capacity": "1"})
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert fleet_snapshot(app) == before


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_admin_pages_need_an_admin(app, role):
    for url in ("/admin/users", "/admin/tokens", "/admin/audit"):
        assert client_as(app, role).get(url).status_code == 403


def test_admin_adds_a_user_who_can_log_in(app, client):
    response = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf_token(client, "/admin/users"),
            "username": "Dana",
            "role": "operator",
        },
    )
    assert response.status_code == 200
    password = re.search(r'data-testid="shown-password">([^<]+)<', response.get_data(as_text=True))
    assert password
    assert log_in(app.test_client(), "dana", password.group(1)).status_code == 302
    # Shown once: the list page does not show it again.
    assert password.group(1) not in client.get("/admin/users").get_data(as_text=True)


def test_the_last_admin_cannot_be_removed(app, client):
    token = csrf_token(client, "/admin/users")
    client.post("/admin/users/admin/delete", data={"csrf_token": token})
    page = client.get("/admin/users").get_data(as_text=True)
    assert "leave no admin" in page
    with app.app_context():
        assert db.session.scalar(db.select(User).where(User.username == "admin")) is not None


def test_admin_creates_a_token_in_the_ui_that_works(app, client, anonymous_client):
    response = client.post(
        "/admin/tokens",
        data={
            "csrf_token": csrf_token(client, "/admin/tokens"),
            "name": "scada",
            "role": "operator",
        },
    )
    raw = re.search(r'data-testid="shown-token">([^<]+)<', response.get_data(as_text=True)).group(1)
    headers = {"Authorization": f"Bearer {raw}"}
    created = anonymous_client.post(
        "/api/plants/", json={"name": "Z", "max_capacity": 1}, headers=headers
    )
    assert created.status_code == 201


# --- the CLI ---------------------------------------------------------------------------


def test_cli_users_and_tokens(app, runner, anonymous_client):
    result = runner.invoke(args=["users", "create", "erin", "--role", "operator"])
    assert result.exit_code == 0 and "Password (shown once): " in result.output
    assert "erin" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "set-role", "erin", "admin"]).exit_code == 0
    created = runner.invoke(args=["tokens", "create", "batch job", "--role", "viewer"])
    raw = created.output.strip().splitlines()[-1]  # the token is the last line
    headers = {"Authorization": f"Bearer {raw}"}
    assert anonymous_client.get("/api/plants/", headers=headers).status_code == 200
    token_id = re.search(r"token (\d+)", created.output).group(1)
    assert runner.invoke(args=["tokens", "revoke", token_id]).exit_code == 0
    assert anonymous_client.get("/api/plants/", headers=headers).status_code == 401
    assert "revoked" in runner.invoke(args=["tokens", "list"]).output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "create", "Bad Name!"], "username"),
        (["users", "create", "viewer"], "already exists"),
        (["users", "delete", "nobody"], "No user named"),
        (["users", "delete", "admin"], "leave no admin"),
        (["users", "set-role", "admin", "viewer"], "leave no admin"),
        (["tokens", "revoke", "999"], "No API token"),
    ],
)
def test_cli_account_errors_are_one_line(runner, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_first_run_creates_an_admin_once(app, runner):
    with app.app_context():
        db.session.execute(db.delete(User))
        db.session.commit()
    first = runner.invoke(args=["users", "ensure-admin"])
    password = re.search(r"^\s+(\S+)$", first.output, re.M).group(1)
    assert log_in(app.test_client(), "admin", password).status_code == 302
    again = runner.invoke(args=["users", "ensure-admin"])
    assert again.exit_code == 0 and again.output == ""


# --- the audit log ---------------------------------------------------------------------


def test_audit_log_records_who_changed_what(app, client, anonymous_client):
    operator = bearer(app, "operator")
    plant = anonymous_client.post(
        "/api/plants/", json={"name": "Genset", "max_capacity": 100}, headers=operator
    ).json
    client.patch(f"/api/plants/{plant['id']}", json={"status": "running"})
    anonymous_client.post("/api/dispatches/", json={"demand": 50}, headers=operator)
    client.delete(f"/api/plants/{plant['id']}")
    events = anonymous_client.get("/api/audit/", headers=bearer(app, "admin")).json["items"]
    mine = [e for e in events if not e["target"].startswith(("user:", "token:"))]
    summary = [(e["action"], e["actor"]) for e in reversed(mine)]
    assert summary == [
        ("plant.create", "token:operator token (#2)"),
        ("plant.update", "user:admin"),
        ("dispatch.commit", "token:operator token (#2)"),
        ("plant.delete", "user:admin"),
    ]
    update = next(e for e in mine if e["action"] == "plant.update")
    assert update["before"] == {"status": "idle", "version": 1}
    assert update["after"] == {"status": "running", "version": 2}
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "plant.update" in page and "user:admin" in page


def test_a_rejected_change_leaves_no_audit_event(app, client):
    def count():
        return client.get("/api/audit/").json["total"]

    before = count()
    client.post("/api/plants/", json={"name": "X", "max_capacity": -1})
    client.patch("/api/plants/999", json={"status": "down"})
    assert count() == before


def test_cli_changes_are_audited_as_the_cli(app, runner, client):
    runner.invoke(args=["plants", "add", "--name", "FromShell", "--max-capacity", "3"])
    event = client.get("/api/audit/").json["items"][0]
    assert event["action"] == "plant.create" and event["actor"].startswith("cli")


# --- escaping ---------------------------------------------------------------------------


def test_names_with_markup_are_shown_escaped_everywhere(app, client):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    client.post("/api/plants/", json={"name": evil, "max_capacity": 10})
    client.post("/api/dispatches/", json={"demand": 5})
    for url in ("/", "/dispatches/1", "/?dispatch=1", "/admin/audit", "/plants/1/edit"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page, url
    data = client.get("/").get_data(as_text=True)
    assert json.loads(re.search(r'id="chart-data">(.*?)</script>', data, re.S).group(1))
