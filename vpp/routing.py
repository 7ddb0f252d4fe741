"""The ``<id:...>`` URL converter: a database id, 1 to 2**31 - 1 (ids are ``Integer``
columns, 32 bits on PostgreSQL). A larger number in a URL is a 404 like any unknown
id, not an overflow in the database."""

import re

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1
_ASCII_WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")


def query_whole_number(text: str | None, low: int, high: int) -> int | None:
    """A query-string number (``?page=3``, ``?dispatch=12``) if it is plain ASCII
    digits within [low, high], else None: never an overflow in the database, and
    never "1_000" or other digits that Python's ``int`` would also accept."""
    if text is None or not _ASCII_WHOLE_NUMBER.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


class IdConverter(IntegerConverter):
    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ID)

    @staticmethod
    def openapi_schema(_converter) -> dict:
        return {"type": "integer", "minimum": 1, "maximum": MAX_ID}
