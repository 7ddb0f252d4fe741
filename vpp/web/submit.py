"""The one rule every page form follows: a valid CSRF token, then the work in one
transaction; a refusal from the services is shown beside the fields it concerns (or
above the form, or as a flashed line for a button) and nothing is changed."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import flash

from vpp.errors import Conflict, InvalidInput, NotFound, VppError
from vpp.transactions import transaction
from vpp.web.forms import VppForm

# What a form's work may refuse with: shown on the page, never an error page.
REFUSALS: tuple[type[VppError], ...] = (InvalidInput, Conflict, NotFound)


@dataclass(frozen=True, slots=True)
class Outcome:
    done: bool
    result: Any = None
    refusal: VppError | None = None


def run_form(form: VppForm, work: Callable[[], Any], *, field: str = "_schema") -> Outcome:
    """Validate ``form`` (CSRF), then run ``work`` in one transaction. A refusal's
    field errors are attached to ``form`` (a message without fields goes to
    ``field``, by default above the form)."""
    if not form.validate_on_submit():
        return Outcome(False)
    try:
        with transaction():
            return Outcome(True, work())
    except REFUSALS as exc:
        form.attach_errors(exc.fields or {field: [exc.message]})
        return Outcome(False, refusal=exc)


def run_action(form: VppForm, work: Callable[[], Any], done: Callable[[Any], str]) -> Outcome:
    """A button (CSRF and nothing else): ``work`` in one transaction, then ``done``'s
    sentence flashed; a refusal is flashed as an error instead."""
    if not form.validate_on_submit():
        return Outcome(False)
    try:
        with transaction():
            result = work()
    except REFUSALS as exc:
        flash(exc.message, "error")
        return Outcome(False, refusal=exc)
    flash(done(result), "success")
    return Outcome(True, result)
