"""Entry points from outside the chat: a WeChat QR code's scene or a Telegram `/start
<payload>` link starts what `content/deeplinks.yaml` maps it to (a command, e.g. "/report").

    scenes = load_scenes(content_dir)         # {"report": "/report", ...}; ContentError when bad
    command_for(scenes, "qrscene_report")     # "/report" (WeChat's prefix for new followers)
    check_scenes(content_dir)                 # [(file:line, field, problem)] for `bot check`

An unknown or malformed payload starts nothing special (the channel falls back to /start).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

FILE = "deeplinks.yaml"
KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
COMMAND = re.compile(r"/[a-z][a-z0-9_]{0,31}")
QR_PREFIX = "qrscene_"


def check_scenes(content_dir: Path) -> list[tuple[str, str, str]]:
    """Problems of content/deeplinks.yaml as (file, field, message); [] when it is fine or absent."""
    path = content_dir / FILE
    if not path.is_file():
        return []
    where = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        return [(where, "", f"not valid YAML: {exc}")]
    scenes = data.get("scenes") if isinstance(data, dict) else None
    if not isinstance(scenes, dict):
        return [(where, "scenes", "expected a mapping of scene -> command")]
    problems = []
    for key, command in scenes.items():
        if not isinstance(key, str) or not KEY.fullmatch(key):
            problems.append((where, f"scenes.{key}", "a scene is 1-64 letters, digits, _ or -"))
        if not isinstance(command, str) or not COMMAND.fullmatch(command):
            problems.append((where, f"scenes.{key}", "the value must be a command such as /report"))
    return problems


@lru_cache(maxsize=8)
def load_scenes(content_dir: Path) -> dict[str, str]:
    """The scene -> command mapping ({} without the file; bad entries left out: `bot check`
    reports them)."""
    path = content_dir / FILE
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    scenes = data.get("scenes") if isinstance(data, dict) else None
    if not isinstance(scenes, dict):
        return {}
    return {k: v for k, v in scenes.items()
            if isinstance(k, str) and KEY.fullmatch(k) and isinstance(v, str) and COMMAND.fullmatch(v)}


def command_for(scenes: dict[str, str], payload: str | None) -> str | None:
    """The command a payload starts ("qrscene_x" and "x" alike), or None."""
    if not payload:
        return None
    payload = payload.strip()
    if payload.startswith(QR_PREFIX):
        payload = payload[len(QR_PREFIX):]
    return scenes.get(payload) if KEY.fullmatch(payload) else None


_START = re.compile(r"/start(?:@\w+)?\s+(\S{1,64})\s*")


def start_command(text: str | None, scenes: dict[str, str]) -> str | None:
    """Telegram's deep link: "/start <payload>" becomes the command the payload names; any
    other text (an unknown payload too) is returned as it is."""
    if not text:
        return text
    m = _START.fullmatch(text)
    command = command_for(scenes, m.group(1)) if m else None
    return command or text
