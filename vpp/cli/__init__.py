"""Administrator commands: ``flask plants ...``, ``flask aggregate``, ``flask dispatch``,
``flask dispatches ...``, ``flask users ...``, ``flask tokens ...``; one module per
command group.

Every command calls the same services as the pages and the API. A rejected input
prints one line on stderr, exits non-zero and changes nothing (``VppCommand``).
"""

from flask import Flask
from flask.cli import FlaskGroup

from vpp.cli.dispatch import aggregate_command, dispatch_command, dispatches_cli
from vpp.cli.plants import plants_cli
from vpp.cli.schedules import schedules_cli
from vpp.cli.telemetry import devices_cli, telemetry_cli
from vpp.cli.tokens import tokens_cli
from vpp.cli.users import users_cli


def register_commands(app: Flask) -> None:
    app.cli.add_command(plants_cli)
    app.cli.add_command(aggregate_command)
    app.cli.add_command(dispatch_command)
    app.cli.add_command(dispatches_cli)
    app.cli.add_command(schedules_cli)
    app.cli.add_command(telemetry_cli)
    app.cli.add_command(devices_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)


VPP_HELP = """VPP, the Virtual Power Plant: the administrator's commands.

Register plants (plants), see the fleet's capacity (aggregate), dispatch a demand
(dispatch) and read the history (dispatches); plan the fleet over the next hours
(schedules); carry live readings in and setpoints out (telemetry listen, status) and
simulate devices (devices simulate); manage who logs in (users) and the
API's bearer tokens (tokens); build the database (db upgrade). The same as
`flask COMMAND`. Settings come from the environment (DATABASE_URL, CURRENCY...,
see the README); every failure is one `Error:` line and exit status 1.
"""


def cli() -> FlaskGroup:
    """The ``vpp`` command: ``flask`` with the VPP's own help text."""
    from vpp import create_app

    return FlaskGroup(name="vpp", help=VPP_HELP, create_app=lambda: create_app())


def main() -> None:
    cli().main()
