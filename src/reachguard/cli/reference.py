"""The CLI reference (docs/cli.md), generated from the commands themselves.

Written from the click command tree behind Typer, so the page cannot drift from `--help`:
`tests/test_cli_reference.py` regenerates it and fails when docs/cli.md differs.
Regenerate with `python -m reachguard.cli.reference > docs/cli.md`.
Typer ships its own copy of click, so commands and parameters are recognised by shape
(`commands`, `param_type_name`) rather than by click's classes.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

from typing import Any

import typer.main

HEADER = """# CLI reference

Generated from the commands' own help by `python -m reachguard.cli.reference > docs/cli.md`;
`tests/test_cli_reference.py` fails when this page and `--help` disagree.
"""


def _walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and sub-command, depth first, in registration order."""
    yield path, command
    if _is_group(command):
        for name, sub in command.commands.items():
            if not sub.hidden:
                yield from _walk(sub, path + (name,))


def _is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def _param_line(param: Any, ctx: Any) -> str:
    """One Markdown bullet for an option or argument: what `--help` shows for it."""
    record = param.get_help_record(ctx)
    if record is None:  # click gives arguments no help record; Typer's arguments have help
        names, text = (param.metavar or param.name or "").upper(), param.help or ""
    else:
        names, text = record
    if param.param_type_name == "argument" and not param.required:
        text += " (optional)"
    return f"- `{names}`: {' '.join(text.split())}".rstrip(": ")


def _section(path: tuple[str, ...], command: Any) -> str:
    """The Markdown section of one command: usage, its help text, its parameters."""
    name = " ".join(path)
    level = "#" * min(len(path) + 1, 4)
    ctx = command.context_class(command, info_name=name)
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = [f"{level} `{name}`", "", "```", f"{name} {usage}".rstrip(), "```", ""]
    help_text = inspect.cleandoc(command.help or "")
    if help_text:
        lines += [help_text, ""]
    params = [p for p in command.get_params(ctx) if p.name != "help"]
    if params:
        lines += [_param_line(p, ctx) for p in params] + [""]
    return "\n".join(lines)


def render() -> str:
    """The whole reference page."""
    from reachguard.cli import app

    root = typer.main.get_command(app)
    sections = [_section(path, cmd) for path, cmd in _walk(root, ("reachguard",))]
    return HEADER + "\n" + "\n".join(sections).rstrip() + "\n"


def commands_without_example() -> list[str]:
    """Leaf commands whose help shows no example (every command must show one)."""
    from reachguard.cli import app

    root = typer.main.get_command(app)
    missing = []
    for path, cmd in _walk(root, ("reachguard",)):
        if _is_group(cmd):
            continue
        text = (cmd.help or "") + (cmd.epilog or "")
        if "reachguard " not in text:
            missing.append(" ".join(path))
    return missing


if __name__ == "__main__":
    print(render(), end="")
