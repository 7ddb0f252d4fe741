"""How the house is arranged (README, "How a request travels"), checked on the
code itself: the doors (web, api, cli) call services; services are told who acts
and never commit; the pure parts import neither Flask nor the database."""

import ast
from pathlib import Path

import pytest

VPP = Path(__file__).parent.parent / "vpp"

# Plain data in and out: no Flask, no database, no request.
PURE = [
    "domain.py",
    "errors.py",
    "formatting.py",
    "demo.py",
    "services/dispatch.py",
    "services/dispatch_summary.py",
    "services/compute_budget.py",
    "services/schedule.py",
    "services/forecasts.py",
]
WEB_OR_DATABASE = ("flask", "werkzeug", "flask_", "sqlalchemy", "vpp.extensions", "vpp.models")
DOORS = (
    "vpp.web",
    "vpp.api",
    "vpp.cli",
    "vpp.worker",
    "vpp.mqtt",
    "vpp.simulator",
    "vpp.http_errors",
    "vpp.auth",
)
# What a service may not read: who acts comes as an argument.
REQUEST_STATE = {"g", "request", "session", "has_request_context", "current_user"}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", [alias.name for alias in node.names]))
    return found


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_import_neither_flask_nor_the_database(name):
    for module, _ in imports(VPP / name):
        assert not module.startswith(WEB_OR_DATABASE), (name, module)


@pytest.mark.parametrize("path", sorted((VPP / "services").glob("*.py")), ids=lambda p: p.name)
def test_services_never_reach_a_door_read_the_request_or_commit(path):
    for module, names in imports(path):
        assert not module.startswith(DOORS), (path.name, module)
        if module.startswith("flask"):
            assert not REQUEST_STATE & set(names), (path.name, module, names)
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "commit":
            pytest.fail(f"{path.name}:{node.lineno} commits; the door's transaction() does")


def test_the_audit_log_is_told_who_acts():
    """Every audited service takes ``actor`` (keyword-only) and has no default."""
    import inspect

    from vpp.services import accounts, audit, dispatch_runs, fleet

    for function in (
        audit.record,
        audit.record_many,
        fleet.create_plant,
        fleet.create_plants,
        fleet.insert_plants,
        fleet.update_plant,
        fleet.delete_plant,
        dispatch_runs.commit_dispatch,
        accounts.create_user,
        accounts.set_role,
        accounts.set_password,
        accounts.delete_user,
        accounts.revoke_token,
        accounts.ensure_admin,
    ):
        actor = inspect.signature(function).parameters["actor"]
        assert actor.kind is inspect.Parameter.KEYWORD_ONLY, function.__qualname__
        assert actor.default is inspect.Parameter.empty, function.__qualname__
