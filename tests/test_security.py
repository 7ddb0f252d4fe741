"""Security headers, cookie flags and the health check."""

import re

import pytest
from sqlalchemy import text

from vpp.extensions import db


@pytest.mark.parametrize("url", ["/", "/api/plants/", "/api/docs", "/healthz", "/nope"])
def test_every_response_carries_security_headers(client, url):
    headers = client.get(url).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self' https://cdn.jsdelivr.net" in csp
    assert "unsafe-inline" not in csp


def test_vendored_charts_drop_the_cdn_from_the_policy(app, client):
    app.config["CHARTJS_SOURCE"] = "vendored"
    assert "cdn.jsdelivr.net" not in client.get("/").headers["Content-Security-Policy"]


def test_session_cookie_is_httponly_and_samesite(client):
    response = client.get("/")  # the CSRF token puts a value in the session
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; SESSION_COOKIE_SECURE=1 behind TLS


def test_secure_cookie_behind_https(tmp_path, monkeypatch):
    from tests.helpers import fresh_database_url
    from vpp import create_app

    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    monkeypatch.setenv("VPP_INSTANCE_PATH", str(tmp_path))
    app = create_app({"SQLALCHEMY_DATABASE_URI": fresh_database_url(tmp_path)})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_healthz_reports_database_and_migration(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["migration"] == body["expected_migration"]


def test_healthz_is_503_when_the_schema_is_behind(app, client):
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = 'old'"))
        db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "error" and response.json["migration"] == "old"


def test_healthz_is_503_when_the_database_is_gone(app, client):
    with app.app_context():
        db.session.execute(text("DROP TABLE alembic_version"))
        db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["database"].startswith("unavailable")


def test_static_files_have_versioned_urls_cached_for_a_year(client):
    page = client.get("/login").get_data(as_text=True)
    css = re.search(r'href="(/static/css/vpp\.css\?v=[0-9a-f]{12})"', page).group(1)
    with client.get(css) as versioned:
        assert versioned.status_code == 200
        assert "max-age=31536000" in versioned.headers["Cache-Control"]
    with client.get("/static/css/vpp.css") as plain:  # an old or hand-made link
        assert "max-age=31536000" not in plain.headers.get("Cache-Control", "")


def test_pages_and_static_files_are_compressed_for_clients_that_accept_it(client):
    page = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    with client.get("/static/vendor/chart.umd.min.js", headers={"Accept-Encoding": "br"}) as script:
        assert script.headers["Content-Encoding"] == "br"
    assert "Content-Encoding" not in client.get("/login").headers  # none asked, none given
