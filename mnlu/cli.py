"""The `mnlu` console command: a dispatcher over subcommands that packages register as entry points.

Each package declares its own subcommand in the `mnlu.commands` entry-point group (pyproject.toml), so this
module never imports train_jax, merge or eval, and a broken optional package cannot break the others.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points

GROUP = "mnlu.commands"


def _commands() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name)}


def _usage(commands: dict[str, EntryPoint]) -> str:
    lines = ["usage: mnlu <command> [options]", "", "commands:"]
    for name, ep in commands.items():
        lines.append(f"  {name:<10} ({ep.value})")
    lines.append("")
    lines.append("Run `mnlu <command> --help` for a command's options.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = _commands()
    if not args or args[0] in {"-h", "--help"}:
        print(_usage(commands))
        return 0
    if args[0] == "--version":
        from mnlu import __version__

        print(__version__)
        return 0
    name, rest = args[0], args[1:]
    if name not in commands:
        print(f"mnlu: unknown command {name!r}; expected one of: {', '.join(commands)}", file=sys.stderr)
        return 2
    run: Callable[[list[str]], int | None] = commands[name].load()
    code = run(rest)
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
