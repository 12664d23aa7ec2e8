"""``%chat``'s dispatch: every subcommand the parser knows has exactly one handler."""

from __future__ import annotations

from vel_jupyter.jupyter.commands import COMMANDS
from vel_jupyter.jupyter.magics import HANDLERS


class TestDispatch:
    def test_every_command_has_a_handler_and_every_handler_a_command(self) -> None:
        assert list(HANDLERS) == list(COMMANDS)
