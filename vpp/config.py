"""Configuration, read from the environment when the app is built.

Every key below can be set by an environment variable of the same name (or
through ``create_app(test_config=...)``); ``DATABASE_URL`` sets
``SQLALCHEMY_DATABASE_URI``. ``SECRET_KEY`` and the default database location
depend on the instance folder, so the factory fills them in when they are absent.
"""

import os
from typing import Any

import click

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


class ConfigError(click.ClickException, ValueError):
    """A setting that cannot be used. A ``ClickException``, so that the ``flask``
    command prints it as one ``Error:`` line and exits 1 instead of a traceback."""


def _whole_number(env: dict[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or int(text) < minimum:
        raise ConfigError(f"{name} must be a whole number >= {minimum}, not {raw!r}.")
    return int(text)


def _currency(raw: str) -> str:
    code = raw.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ConfigError(
            f"CURRENCY must be a three-letter ISO 4217 code such as EUR, not {raw!r}."
        )
    return code


def settings_from_environment(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings, read from ``env`` (default: the environment). Raises
    ``ConfigError`` for a value that is not a number where one is needed."""
    env = dict(os.environ if env is None else env)
    session_max_hours = _whole_number(env, "SESSION_MAX_HOURS", 12, 1)
    return {
        **STATIC_SETTINGS,
        # None means: the SQLite file instance/vpp.sqlite3.
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or None,
        # None means: a random key generated once and kept in instance/secret_key.
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        # 1 MiB is far more than any request needs; larger bodies get a 413.
        "MAX_CONTENT_LENGTH": _whole_number(env, "MAX_CONTENT_LENGTH", 1024 * 1024, 1024),
        # A batch of plants (POST /api/plants/ with an array): 100,000 plants are
        # about 12 MB of JSON.
        "MAX_BATCH_CONTENT_LENGTH": _whole_number(
            env, "MAX_BATCH_CONTENT_LENGTH", 32 * 1024 * 1024, 1024
        ),
        # "cdn": the pinned CDN copy of Chart.js (SRI), falling back to the vendored
        # copy; "vendored": never reference the CDN (air-gapped control rooms).
        "CHARTJS_SOURCE": env.get("CHARTJS_SOURCE", "cdn"),
        # The currency of marginal costs and dispatch costs, as an ISO 4217 code; the
        # pages and the CLI show it on every cost (the API's numbers are in it).
        "CURRENCY": _currency(env.get("CURRENCY", "EUR")),
        # How long a page waits for the CDN before it loads the vendored copy.
        "CHARTJS_CDN_TIMEOUT_MS": _whole_number(env, "CHARTJS_CDN_TIMEOUT_MS", 1500, 0),
        # The session cookie: never readable by scripts, not sent on cross-site
        # requests, and (set SESSION_COOKIE_SECURE=1 behind HTTPS) only over TLS.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("SESSION_COOKIE_SECURE", "").lower() in TRUE_WORDS,
        # werkzeug's password hash; the tests choose a faster one.
        "PASSWORD_HASH_METHOD": env.get("PASSWORD_HASH_METHOD", "scrypt"),
        # How many reverse proxies in front of the app to trust for X-Forwarded-*.
        "TRUSTED_PROXIES": _whole_number(env, "TRUSTED_PROXIES", 0, 0),
        # A browser session ends after this long unused, or this long after the
        # login, whichever comes first (and at logout, or when the password changes).
        "SESSION_IDLE_MINUTES": _whole_number(env, "SESSION_IDLE_MINUTES", 120, 1),
        "SESSION_MAX_HOURS": session_max_hours,
        # The signed cookie itself is refused after that long, too.
        "PERMANENT_SESSION_LIFETIME": session_max_hours * 3600,
        # Dispatch previews are free to read but not to compute: each caller (token
        # or user) may spend this many seconds of solver time per minute, per server
        # process; past it, 429 with Retry-After.
        "PREVIEW_BUDGET_S_PER_MIN": _whole_number(env, "PREVIEW_BUDGET_S_PER_MIN", 10, 1),
        # Schedules are solved by worker threads in each server process (0: none here;
        # run `flask schedules worker` elsewhere). A running job whose worker has not
        # written a heartbeat for SCHEDULE_LEASE_S seconds is taken over by another,
        # at most SCHEDULE_MAX_ATTEMPTS times in all, then marked failed.
        "SCHEDULE_WORKER_THREADS": _whole_number(env, "SCHEDULE_WORKER_THREADS", 1, 0),
        "SCHEDULE_LEASE_S": _whole_number(env, "SCHEDULE_LEASE_S", 30, 1),
        "SCHEDULE_MAX_ATTEMPTS": _whole_number(env, "SCHEDULE_MAX_ATTEMPTS", 2, 1),
        # Live devices (DESIGN.md): a telemetry plant silent for longer than this is
        # taken down ("silent") by the housekeeping thread of each server process
        # (TELEMETRY_SWEEP=0: none here; run `flask telemetry listen` or `sweep`).
        "VPP_STALE_AFTER_S": _whole_number(env, "VPP_STALE_AFTER_S", 60, 1),
        "TELEMETRY_SWEEP": env.get("TELEMETRY_SWEEP", "1").lower() in TRUE_WORDS,
        # Raw readings are kept this many days; their per-minute averages this many.
        "TELEMETRY_RAW_DAYS": _whole_number(env, "TELEMETRY_RAW_DAYS", 7, 1),
        "TELEMETRY_ROLLUP_DAYS": _whole_number(env, "TELEMETRY_ROLLUP_DAYS", 365, 1),
        # How far ahead of the server's clock a reading's time may be.
        "TELEMETRY_CLOCK_SKEW_S": _whole_number(env, "TELEMETRY_CLOCK_SKEW_S", 5, 0),
        # The broker of `flask telemetry listen` and `flask devices simulate`
        # (mqtt://user:password@host:port); the app itself never needs one.
        "MQTT_URL": env.get("MQTT_URL", "mqtt://127.0.0.1:1883"),
    }
