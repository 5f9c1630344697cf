"""Reading YAML content files and turning validation errors into "file:line field: problem".

Content and dialogs are edited by people who are not programmers, so every problem names
the file, the line and the field instead of showing a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: 10x faster


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ContentError(Exception):
    """Raised at start-up when content or dialogs are broken; carries every problem found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class YamlDoc:
    path: Path
    data: Any
    node: yaml.Node | None

    def line_of(self, loc: Iterable[Any]) -> int | None:
        """Line (1-based) of the value at `loc` (a pydantic error location), best effort."""
        node = self.node
        line = node.start_mark.line + 1 if node is not None else None
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                nxt = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                nxt = node.value[key]
            else:
                nxt = None
            if nxt is None:
                break
            node = nxt
            line = node.start_mark.line + 1
        return line


def read_yaml(path: Path, root: Path | None = None) -> YamlDoc:
    """Parse a YAML file keeping its node tree for line numbers. Raises ContentError."""
    name = _rel(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContentError([Problem(name, "", "file is missing")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError([Problem(name, "", f"cannot read file: {exc}")]) from None
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise ContentError([Problem(name, "", f"not valid YAML: {exc}", line)]) from None
    return YamlDoc(path, data, node)


def validate(model: type[M], doc: YamlDoc, root: Path | None = None, **context: Any) -> M:
    """Validate a parsed document with a pydantic model; errors become Problems with lines."""
    name = _rel(doc.path, root)
    try:
        return model.model_validate(doc.data, context=context or None)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if p not in ("function-after", "function-before")]
            field = ".".join(str(p) for p in loc)
            problems.append(Problem(name, field, err["msg"], doc.line_of(loc)))
        raise ContentError(problems) from None


def _rel(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root.parent))
        except ValueError:
            pass
    return str(path)
