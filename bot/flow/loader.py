"""Load dialogs/*.yaml into validated Dialog models."""

from __future__ import annotations

from pathlib import Path

from bot.contentfiles import ContentError, Problem, read_yaml, validate
from bot.flow.models import Dialog


def load_dialogs(root: Path) -> dict[str, Dialog]:
    problems: list[Problem] = []
    dialogs: dict[str, Dialog] = {}
    paths = sorted(root.glob("*.yaml"))
    if not paths:
        problems.append(Problem(str(root), "", "no dialog files"))
    for path in paths:
        try:
            dialog = validate(Dialog, read_yaml(path, root), root)
        except ContentError as exc:
            problems.extend(exc.problems)
            continue
        if dialog.id != path.stem:
            problems.append(Problem(f"dialogs/{path.name}", "id", f"{dialog.id!r} differs from file name"))
        dialogs[dialog.id] = dialog
    if problems:
        raise ContentError(problems)
    return dialogs
