"""JSON responses encoded by orjson: a 100,000-plant dispatch answer is a few
megabytes of numbers, and the standard library spends several milliseconds per
10,000 of them. Request bodies are still parsed by the standard library, which
reads NaN and Infinity, so that they reach the field rules and get their 422."""

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider


class OrjsonProvider(DefaultJSONProvider):
    # Keys keep insertion order (allocations by plant id); no sort on every answer.
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
        if kwargs.get("indent"):
            option |= orjson.OPT_INDENT_2
        try:
            return orjson.dumps(obj, default=self.default, option=option).decode()
        except TypeError:
            # orjson refuses strings that are not valid UTF-8, such as a lone
            # surrogate a client sent as a field name and that an error message
            # repeats; the standard library escapes them.
            return super().dumps(obj, **kwargs)
