"""Administrator commands: ``flask plants ...``, ``flask aggregate``, ``flask dispatch``,
``flask dispatches ...``, ``flask users ...``, ``flask tokens ...``; one module per
command group.

Every command calls the same services as the pages and the API. A rejected input
prints one line on stderr, exits non-zero and changes nothing (``VppCommand``).
"""

from flask import Flask

from vpp.cli.dispatch import aggregate_command, dispatch_command, dispatches_cli
from vpp.cli.plants import plants_cli
from vpp.cli.tokens import tokens_cli
from vpp.cli.users import users_cli


def register_commands(app: Flask) -> None:
    app.cli.add_command(plants_cli)
    app.cli.add_command(aggregate_command)
    app.cli.add_command(dispatch_command)
    app.cli.add_command(dispatches_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
