"""The ``<id:...>`` URL converter: a database id, 1 to 2**31 - 1 (ids are ``Integer``
columns, 32 bits on PostgreSQL). A larger number in a URL is a 404 like any unknown
id, not an overflow in the database."""

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ID)

    @staticmethod
    def openapi_schema(_converter) -> dict:
        return {"type": "integer", "minimum": 1, "maximum": MAX_ID}
