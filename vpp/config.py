"""Configuration, read from the environment when the app is built.

Every key below can be set by an environment variable of the same name (or
through ``create_app(test_config=...)``); ``DATABASE_URL`` sets
``SQLALCHEMY_DATABASE_URI``. ``SECRET_KEY`` and the default database location
depend on the instance folder, so the factory fills them in when they are absent.
"""

import os
from typing import Any

CHARTJS_VERSION = "4.6.1"
CHARTJS_CDN_URL = f"https://cdn.jsdelivr.net/npm/chart.js@{CHARTJS_VERSION}/dist/chart.umd.min.js"
# Subresource integrity of the file above; it is byte-for-byte the npm package's
# dist/chart.umd.min.js, which is also what static/vendor/chart.umd.min.js holds.
CHARTJS_CDN_INTEGRITY = "sha384-Emf5ZVIUiarAdhkgtqK+5/Z5qIvM6QoVrS+qAVtfyZVuD5lIHrac0me485+Antp0"
CHARTJS_SOURCES = ("cdn", "vendored")
TRUE_WORDS = ("1", "true", "yes", "on")

STATIC_SETTINGS: dict[str, Any] = {
    "WTF_CSRF_TIME_LIMIT": None,  # a form's token lives as long as the session
    "API_TITLE": "VPP API",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    # Every operation needs a bearer token (or a logged-in browser session).
    "API_SPEC_OPTIONS": {
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token from `flask tokens create` or the Tokens page.",
                }
            }
        },
        "security": [{"bearerAuth": []}],
    },
}


def settings_from_environment(env: dict[str, str] | None = None) -> dict[str, Any]:
    env = dict(os.environ if env is None else env)
    return {
        **STATIC_SETTINGS,
        # None means: the SQLite file instance/vpp.sqlite3.
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or None,
        # None means: a random key generated once and kept in instance/secret_key.
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        # 1 MiB is far more than any request needs; larger bodies get a 413.
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", 1024 * 1024)),
        # "cdn": the pinned CDN copy of Chart.js (SRI), falling back to the vendored
        # copy; "vendored": never reference the CDN (air-gapped control rooms).
        "CHARTJS_SOURCE": env.get("CHARTJS_SOURCE", "cdn"),
        # How long a page waits for the CDN before it loads the vendored copy.
        "CHARTJS_CDN_TIMEOUT_MS": int(env.get("CHARTJS_CDN_TIMEOUT_MS", 1500)),
        # The session cookie: never readable by scripts, not sent on cross-site
        # requests, and (set SESSION_COOKIE_SECURE=1 behind HTTPS) only over TLS.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("SESSION_COOKIE_SECURE", "").lower() in TRUE_WORDS,
        # werkzeug's password hash; the tests choose a faster one.
        "PASSWORD_HASH_METHOD": env.get("PASSWORD_HASH_METHOD", "scrypt"),
        # How many reverse proxies in front of the app to trust for X-Forwarded-*.
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", 0)),
    }
