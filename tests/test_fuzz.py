"""Property-based fuzzing of the JSON API from its own OpenAPI document
(schemathesis): for every operation, generated requests, valid and not, with an
admin token and with none, must never get a 5xx, and every answer must match what
the document promises (status code, content type, body schema).

schemathesis's pytest plugin does not run under pytest 9 yet, so its Hypothesis
strategies are driven directly. The number of generated cases is printed (``-s``).
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from tests.helpers import bearer

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, headers=bearer(app, "admin"))
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 10  # every route of the API is in the document
    return found


@pytest.mark.parametrize(
    ("who", "mode", "examples"),
    [
        ("admin", GenerationMode.POSITIVE, 50),  # requests the document calls valid
        ("admin", GenerationMode.NEGATIVE, 50),  # and ones it calls invalid
        ("anonymous", GenerationMode.POSITIVE, 15),
    ],
)
def test_every_operation_keeps_its_document(app, who, mode, examples):
    # schemathesis's WSGI client does not decode a compressed body: ask for none.
    headers = {"Accept-Encoding": "identity"}
    if who != "anonymous":
        headers.update(bearer(app, who))
    sent = {}
    for operation in operations(app):

        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy(mode))
        def call(case):
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            if who == "anonymous":
                assert response.status_code == 401
            label = f"{case.method} {case.path}"
            sent[label] = sent.get(label, 0) + 1

        call()
    print(
        f"\nschemathesis, {who}, {mode.value}: {sum(sent.values())} cases, {len(sent)} operations"
    )
    assert len(sent) >= 10
