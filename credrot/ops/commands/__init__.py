"""The ``credrot`` subcommands, one module each (pip's commands pattern): every module holds
one ``Command`` with its help texts, its options and what it runs. ``COMMANDS`` is the
registry, in the order ``credrot --help`` lists them."""

from credrot.ops.commands.base import Command
from credrot.ops.commands.credential_process import CredentialProcess
from credrot.ops.commands.drill import Drill
from credrot.ops.commands.export import Export
from credrot.ops.commands.revoke import Revoke
from credrot.ops.commands.rotate import Rotate
from credrot.ops.commands.sandbox import Sandbox
from credrot.ops.commands.status import Status
from credrot.ops.commands.unstick import Unstick

COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Status(),
        Rotate(),
        Revoke(),
        Unstick(),
        Export(),
        CredentialProcess(),
        Sandbox(),
        Drill(),
    )
}
