"""Flask extensions, created unbound and bound to an app in ``create_app``."""

import http

import sqlalchemy as sa
from flask_compress import Compress
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

from vpp.schemas import ErrorSchema

# Named constraints, so that Alembic's batch mode can alter them on SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class VppApi(Api):
    """flask-smorest's Api, documenting our error body and leaving error handling to
    ``vpp.errors`` (one handler for the API and the pages)."""

    ERROR_SCHEMA = ErrorSchema
    # Each operation lists the error answers it can give (``vpp.api.spec``), not a
    # shapeless "default" one.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self):
        """flask-smorest's lazily registered answer per status, with our words."""
        from flask_smorest.utils import prepare_response

        from vpp.api.spec import STATUS_DESCRIPTIONS

        for status in http.HTTPStatus:
            response = {"description": STATUS_DESCRIPTIONS.get(status, status.phrase)}
            if status >= 200 and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)

    def _register_error_handlers(self):
        pass


# Objects keep what was written when their transaction commits: a response built
# after the commit never reloads a row that a concurrent request deleted meanwhile.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate(render_as_batch=True)
csrf = CSRFProtect()
# Pages, JSON, CSS and scripts compressed for clients that accept it (gzip, brotli...).
compress = Compress()
login_manager = LoginManager()
api = VppApi()
