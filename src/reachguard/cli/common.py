"""Options shared by several commands."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from reachguard.policy import PolicyBook

F = TypeVar("F", bound=Callable[..., Any])


def load_policies(profile: str, policy_file: Path | None) -> PolicyBook:
    """The policy book from --policy FILE, else the built-in --profile; a bad one exits 2."""
    from reachguard.policy import PolicyBook, PolicyError, load_policy_file  # pydantic: only when a command runs

    try:
        if policy_file is not None:
            return load_policy_file(policy_file)
        return PolicyBook.profile(profile)
    except PolicyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def time_option(text: str, option: str) -> datetime:
    """A time option (--at, --from, --to): ISO-8601 with an offset, inside the contract's range —
    the rules of an event's `at` (events.parse_time); anything else is a usage error (exit 2)."""
    from reachguard.events import EventError, parse_time  # msgspec: only when a command runs

    try:
        return parse_time(text, option)
    except EventError as exc:
        raise typer.BadParameter(exc.message, param_hint=option) from None


class Utf8Group(TyperGroup):
    """A command group whose commands refuse text arguments that are not valid UTF-8.

    Why: the shell hands bytes, and Python keeps undecodable ones as lone surrogates, which no
    store and no JSON output can hold: `keys create --label $'a\\xffb'` was a traceback at the
    store's INSERT. File names may be any bytes the file system takes: Path parameters, and text
    naming a file that exists (`replay FILE`, `--db FILE`), pass."""

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and not isinstance(command, TyperGroup) and not getattr(command, "_utf8_checked", False):
            parse = command.parse_args

            def checked_parse(ctx: typer.Context, args: list[str]) -> list[str]:
                rest = parse(ctx, args)
                _refuse_undecodable(command, ctx)
                return rest
            command.parse_args = checked_parse
            command._utf8_checked = True
        return command


def own_utf8_check(*names: str) -> Callable[[F], F]:
    """Mark a command's parameters that answer undecodable text themselves (`review TEXT` prints
    the INVALID_UTF8 error line its stdin lines get), so Utf8Group leaves them alone."""
    def mark(function: F) -> F:
        function._own_utf8 = frozenset(names)  # type: ignore[attr-defined]
        return function
    return mark


_FILE_PARAMS = frozenset({"db", "file"})
"""Text parameters that name a file (text, not Path, because they also take `-` or a URL)."""


def _refuse_undecodable(command: Any, ctx: typer.Context) -> None:
    """A usage error (exit 2) naming the first text parameter holding an undecodable byte."""
    own = getattr(command.callback, "_own_utf8", frozenset())
    for param in command.params:
        if param.name in own:
            continue
        value = ctx.params.get(param.name or "")
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if not isinstance(item, str):  # a Path parameter's value is a pathlib.Path
                continue
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                if param.name in _FILE_PARAMS and os.path.lexists(item):  # a file name in a legacy encoding
                    continue
                raise typer.BadParameter(f"is not valid UTF-8 (an undecodable byte at character {exc.start})",
                                         ctx=ctx, param=param) from None
