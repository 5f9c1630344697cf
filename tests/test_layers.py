"""Layering rules, checked on the source: storage/ is the only place that speaks SQL.

bot/ reaches the database through storage.Store and its `reminders` only: no sqlite3 or
sqlite_utils import, no connection (`.db`, `.conn`, `.sql`), no execute/query call and no
SQL text. (ruff's banned-api rule, pyproject.toml, catches the imports while editing; this
test catches the rest.) Tests and benchmarks may still look at rows directly.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BANNED_MODULES = ("sqlite3", "sqlite_utils", "storage.sql")
BANNED_ATTRIBUTES = {"db", "conn", "sql", "cursor"}
BANNED_CALLS = {"execute", "executemany", "executescript", "query", "table", "atomic"}
SQL = re.compile(r"\b(SELECT\s.*\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|PRAGMA\s+\w|"
                 r"BEGIN(\s+IMMEDIATE)?\s*$|COMMIT\s*$|SAVEPOINT\s)", re.S)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def violations(source: str, name: str) -> list[str]:
    tree = ast.parse(source, name)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            modules = []
        for module in modules:
            if any(module == banned or module.startswith(banned + ".") for banned in BANNED_MODULES):
                found.append(f"{where}: imports {module}")
        if isinstance(node, ast.Attribute) and node.attr in BANNED_ATTRIBUTES:
            found.append(f"{where}: .{node.attr}")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in BANNED_CALLS):
            found.append(f"{where}: .{node.func.attr}(...)")
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                and SQL.search(node.value)):
            found.append(f"{where}: SQL text {node.value[:40]!r}")
    return found


def test_sql_only_in_storage() -> None:
    found = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        found += violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == [], "SQL outside storage/ (add a method to storage.Store / ReminderStore):\n" + "\n".join(found)


def test_the_rule_catches_what_it_should() -> None:
    bad = '''
import sqlite3
from sqlite_utils import Database
from storage.sql import Sql
rows = engine.store.db.execute("SELECT 1").fetchone()
engine.store.sql.rows("x")
ReminderStore(ctx.store.db)
conn.execute("x")
q = f"DELETE FROM users WHERE id = {1}"
'''
    found = violations(bad, "bad.py")
    for expected in ("imports sqlite3", "imports sqlite_utils", "imports storage.sql", ".db", ".execute(...)",
                     ".sql", "SQL text 'DELETE FROM"):
        assert any(expected in f for f in found), expected
    fine = '''
"""A docstring may say: UPDATE reminders SET status = 'claimed' ... RETURNING."""
from storage import Store, open_db
text = request.query.get("echostr", "")
store.reminders.claim_due(now, token, 10)
label = "Select one from the list"
'''
    assert violations(fine, "fine.py") == []
