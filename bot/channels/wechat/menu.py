"""The custom menu (自定义菜单) of the Official Account, from content/wechat_menu.yaml:
checked against WeChat's limits (`check_menu`, run by `python -m bot check`) and turned into
the body of WeChat's menu create API (`menu_payload`, sent by `python -m bot wechat-menu`).

WeChat's limits (menu create API): at most 3 bar buttons and 5 sub-buttons under each; a bar
button's name at most 16 bytes (4 Chinese characters), a sub-button's at most 60 bytes (WeChat
shows 8 Chinese characters); a CLICK key at most 128 bytes; a VIEW url at most 1024 bytes.
A CLICK button's key is the command it runs (the channel runs a CLICK whose key starts with
"/"); `{public_url}` in a url is BOT_PUBLIC_URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FILE = "wechat_menu.yaml"
MAX_TOP, MAX_SUB = 3, 5
TOP_NAME_BYTES, SUB_NAME_BYTES = 16, 60
TOP_NAME_CHARS, SUB_NAME_CHARS = 4, 8      # Chinese characters WeChat shows (Latin letters count half)
KEY_BYTES, URL_BYTES = 128, 1024


class MenuError(ValueError):
    """The menu cannot be published; `problems` are (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


def _width(name: str) -> float:
    """Characters as WeChat counts them: a Chinese (wide) character 1, a Latin one a half."""
    return sum(0.5 if ord(c) < 0x2E80 else 1.0 for c in name)


def check_menu(data: Any) -> list[tuple[str, str]]:
    """(field, problem) for every way `data` (the parsed YAML) breaks WeChat's rules."""
    buttons = data.get("buttons") if isinstance(data, dict) else None
    if not isinstance(buttons, list) or not buttons:
        return [("buttons", "expected a list of 1 to 3 buttons")]
    problems: list[tuple[str, str]] = []
    if len(buttons) > MAX_TOP:
        problems.append(("buttons", f"{len(buttons)} buttons; WeChat allows {MAX_TOP}"))
    for i, button in enumerate(buttons):
        problems += _check_button(button, f"buttons[{i}]", top=True)
    return problems


def _check_button(button: Any, where: str, top: bool) -> list[tuple[str, str]]:
    if not isinstance(button, dict):
        return [(where, "expected a mapping with name and command, url or sub")]
    out: list[tuple[str, str]] = []
    name = button.get("name")
    max_bytes, max_chars = (TOP_NAME_BYTES, TOP_NAME_CHARS) if top else (SUB_NAME_BYTES, SUB_NAME_CHARS)
    if not isinstance(name, str) or not name.strip():
        out.append((f"{where}.name", "missing"))
    elif len(name.encode("utf-8")) > max_bytes or _width(name) > max_chars:
        out.append((f"{where}.name", f"{name!r} is too long (at most {max_chars} Chinese characters, "
                                     f"{max_bytes} bytes)"))
    kinds = [k for k in ("command", "url", "sub") if k in button]
    unknown = set(button) - {"name", "command", "url", "sub"}
    if unknown:
        out.append((where, f"unknown fields {sorted(unknown)}"))
    if len(kinds) != 1:
        out.append((where, "needs exactly one of command, url, sub"))
        return out
    kind = kinds[0]
    value = button[kind]
    if kind == "command":
        if not isinstance(value, str) or not value.startswith("/") or " " in value.strip():
            out.append((f"{where}.command", "a command such as /report"))
        elif len(value.encode("utf-8")) > KEY_BYTES:
            out.append((f"{where}.command", f"longer than {KEY_BYTES} bytes"))
    elif kind == "url":
        if not isinstance(value, str) or not value.startswith(("https://", "http://", "{public_url}")):
            out.append((f"{where}.url", "an http(s) URL, or one starting with {public_url}"))
        elif len(value.encode("utf-8")) > URL_BYTES:
            out.append((f"{where}.url", f"longer than {URL_BYTES} bytes"))
    else:
        if not top:
            out.append((f"{where}.sub", "sub-buttons cannot have sub-buttons"))
        elif not isinstance(value, list) or not value:
            out.append((f"{where}.sub", f"expected a list of 1 to {MAX_SUB} buttons"))
        else:
            if len(value) > MAX_SUB:
                out.append((f"{where}.sub", f"{len(value)} sub-buttons; WeChat allows {MAX_SUB}"))
            for j, sub in enumerate(value):
                out += _check_button(sub, f"{where}.sub[{j}]", top=False)
    return out


def load_menu(content_dir: Path) -> Any:
    return yaml.safe_load((content_dir / FILE).read_text(encoding="utf-8"))


def check_menu_file(content_dir: Path) -> list[tuple[str, str, str]]:
    """(file, field, problem) for `bot check`; [] when the file is fine or absent."""
    path = content_dir / FILE
    if not path.is_file():
        return []
    try:
        data = load_menu(content_dir)
    except yaml.YAMLError as exc:
        return [(str(path), "", f"not valid YAML: {exc}")]
    return [(str(path), f, m) for f, m in check_menu(data)]


def menu_payload(data: Any, public_url: str | None) -> dict[str, Any]:
    """The menu create API's body. MenuError when the menu breaks WeChat's rules, or uses
    {public_url} while BOT_PUBLIC_URL is unset."""
    problems = check_menu(data)
    if problems:
        raise MenuError(problems)

    def one(button: dict[str, Any], where: str) -> dict[str, Any]:
        name = button["name"].strip()
        if "sub" in button:
            return {"name": name, "sub_button": [one(b, f"{where}.sub[{j}]") for j, b in enumerate(button["sub"])]}
        if "command" in button:
            return {"type": "click", "name": name, "key": button["command"].strip()}
        url = button["url"]
        if "{public_url}" in url:
            if not public_url:
                raise MenuError([(f"{where}.url", "uses {public_url} but BOT_PUBLIC_URL is not set")])
            url = url.replace("{public_url}", public_url.rstrip("/"))
        return {"type": "view", "name": name, "url": url}

    return {"button": [one(b, f"buttons[{i}]") for i, b in enumerate(data["buttons"])]}
