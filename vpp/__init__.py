"""VPP: a Virtual Power Plant. ``create_app`` builds the Flask application."""

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, has_request_context, request

from vpp.config import CHARTJS_SOURCES, ConfigError, settings_from_environment
from vpp.json_provider import OrjsonProvider

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# How long a browser may keep a static file fetched by its versioned URL.
STATIC_VERSIONED_MAX_AGE = 365 * 24 * 3600


class VppFlask(Flask):
    json_provider_class = OrjsonProvider

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """Static files asked for by their versioned URL (``?v=`` a hash of their
        content, which ``static_versions`` adds to every ``url_for('static')``) are
        cached for a year: a changed file gets a new URL. Others are revalidated."""
        if has_request_context() and request.args.get("v"):
            return STATIC_VERSIONED_MAX_AGE
        return super().get_send_file_max_age(filename)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = VppFlask(
        __name__,
        instance_path=os.environ.get("VPP_INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    configure(app, test_config)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_security(app)
    register_auth(app)
    register_template_helpers(app)
    register_static_versions(app)
    register_commands(app)
    register_schedule_workers(app)
    return app


def register_schedule_workers(app: Flask) -> None:
    """The server's schedule workers start with its first request: after gunicorn
    forks, and never in a ``flask`` command that only migrates or lists."""
    from vpp.worker import EXTENSION_KEY, start_background_workers

    @app.before_request
    def start_workers() -> None:
        if EXTENSION_KEY not in app.extensions:
            start_background_workers(app)


def register_static_versions(app: Flask) -> None:
    """``url_for('static', filename=...)`` gets ``v=`` the first 12 hex digits of the
    file's SHA-256, read once per file and process."""
    versions: dict[str, str] = {}

    @app.url_defaults
    def static_version(endpoint: str, values: dict) -> None:
        if endpoint != "static" or "filename" not in values or "v" in values:
            return
        filename = values["filename"]
        if filename not in versions:
            path = Path(app.static_folder) / filename
            try:
                versions[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            except OSError:
                versions[filename] = ""
        if versions[filename]:
            values["v"] = versions[filename]


def configure(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.update(settings_from_environment())
    if test_config:
        app.config.update(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        db_file = Path(app.instance_path) / "vpp.sqlite3"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db_file}"
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret_key(Path(app.instance_path))
    if app.config["CHARTJS_SOURCE"] not in CHARTJS_SOURCES:
        raise ConfigError(
            f"CHARTJS_SOURCE must be one of {', '.join(CHARTJS_SOURCES)}, "
            f"not {app.config['CHARTJS_SOURCE']!r}."
        )
    _check_database_url(app.config["SQLALCHEMY_DATABASE_URI"])


def _check_database_url(url: str) -> None:
    """A URL SQLAlchemy can parse, for a database it has a driver for; else one clear
    ``ConfigError`` (the password, if any, is not repeated)."""
    try:
        parsed = sa.engine.make_url(url)
        parsed.get_dialect()
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError, ValueError) as exc:
        shown = url.split("://", 1)[0] + "://..." if "://" in url else "(not a URL)"
        raise ConfigError(
            f"DATABASE_URL {shown} cannot be used: {exc.__class__.__name__}: {exc}"
        ) from exc


def _instance_secret_key(instance_path: Path) -> str:
    """A random key made on first start and kept in the instance folder (mode 0600),
    so sessions survive restarts without a constant in the code."""
    key_file = instance_path / "secret_key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_hex(32)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL (readers never block the writer), foreign keys on, and a busy timeout so
    that concurrent writers wait instead of failing at once."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def register_extensions(app: Flask) -> None:
    from vpp.extensions import api, compress, csrf, db, migrate
    from vpp.routing import IdConverter

    app.url_map.converters["id"] = IdConverter

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    compress.init_app(app)
    api.init_app(app)
    api.register_converter(IdConverter, IdConverter.openapi_schema)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)


def register_blueprints(app: Flask) -> None:
    from vpp.api import register_api
    from vpp.health import bp as health_bp
    from vpp.web.account_views import admin_bp, auth_bp
    from vpp.web.live_views import bp as live_bp
    from vpp.web.schedule_views import bp as schedules_web_bp
    from vpp.web.views import bp as web_bp

    register_api(app)
    app.register_blueprint(web_bp)
    app.register_blueprint(schedules_web_bp)
    app.register_blueprint(live_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(health_bp)


def register_error_handlers(app: Flask) -> None:
    from vpp.http_errors import register_error_handlers as register

    register(app)


def register_auth(app: Flask) -> None:
    from vpp.auth import register_auth as register

    register(app)


def register_security(app: Flask) -> None:
    from vpp.security import register_security as register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from vpp.web.filters import register_filters

    register_filters(app)


def register_commands(app: Flask) -> None:
    from vpp.cli import register_commands as register

    register(app)
