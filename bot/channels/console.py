"""The terminal chat (python -m bot chat), for people and, with --jsonl, for programs.

Non-interactive input is handled line by line as it arrives, with a flush after each reply,
so another program can hold a conversation through a pipe.

The terminal is a channel like the others (bot/channels/base.py): buttons as `[N] label`
lines (base.plain_text, as on WeChat), `--jsonl` replies in the one JSON shape
(Reply.to_json, as /api/chat), the engine's dedup and the last-resort error through
base.handle, and reminders pushed through `push` (bot.scheduler.console_hook ticks the
reminder loop for the chat's user between lines). It runs the engine in the foreground: it
has no event loop and no worker thread.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from typing import TextIO

from pydantic import ValidationError

from bot.channels.base import HandlingFailed, handle, plain_text
from bot.core.engine import Engine
from bot.core.models import Inbound, Reply

CHANNEL = "console"


class Console:
    """The channel for one terminal user (`user`); `push` reaches only them."""

    name = CHANNEL
    can_push = True

    def __init__(self, engine: Engine, user: str, out: TextIO, jsonl: bool = False):
        self.engine = engine
        self.user = user
        self.out = out
        self.jsonl = jsonl
        self.run_id = uuid.uuid4().hex[:12]
        self.count = 0
        self.held: list[tuple[Inbound, list[Reply]]] = []  # recovered, for the next output line (--jsonl)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def push(self, user: str, replies: list[Reply]) -> bool:
        """Due reminders, printed now: only to this terminal's user (another terminal's user
        gets them with their next message)."""
        if user != self.user:
            return False
        self.show(replies)
        return True

    def set_lang(self, lang: str) -> None:
        row = self.engine.store.user(CHANNEL, self.user)
        self.engine.store.update_user(row["id"], lang=lang)

    def resume(self) -> None:
        """Replies a crash kept from being shown last time. With --jsonl they go in front of
        the replies of the next input line (one output line per input line); otherwise now."""
        for inbound, replies in self.engine.recover(CHANNEL):
            if inbound.user == self.user and replies:
                if self.jsonl:
                    self.held.append((inbound, replies))
                else:
                    self._emit(replies)
                    self.engine.ack(inbound)

    def line(self, raw: str) -> None:
        """Handle one line of input. Whatever the line holds, it gets its output line (an error
        for input that is not a message) and the chat goes on with the next one."""
        raw = raw.rstrip("\r\n")
        self.count += 1
        message_id = f"{self.run_id}-{self.count}"
        if self.jsonl:
            inbound, error = self._parse(raw, message_id)
        else:
            inbound, error = Inbound(channel=CHANNEL, user=self.user, message_id=message_id, text=raw), None
        replies: list[Reply] = []
        if inbound is not None:
            try:  # acknowledged once printed, below
                replies = handle(self.engine, inbound, ack=False)
            except HandlingFailed:  # logged by type; the chat goes on
                error = "internal error, please send it again"
                inbound = None
        held, self.held = self.held, []
        self._emit([r for _, kept in held for r in kept] + replies, error)
        for done in [i for i, _ in held] + ([inbound] if inbound is not None else []):
            self.engine.ack(done)

    def _parse(self, raw: str, message_id: str) -> tuple[Inbound | None, str | None]:
        """A --jsonl input line as an Inbound, or (None, a short reason)."""
        try:
            obj = json.loads(raw)
        except RecursionError:
            return None, "bad input line: JSON nested too deep"
        except ValueError as exc:
            return None, f"bad input line: {type(exc).__name__}"
        if not isinstance(obj, dict):
            return None, "bad input line: not a JSON object"
        fields = {k: obj.get(k) for k in ("text", "choice")}
        for value in fields.values():
            if isinstance(value, str):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return None, "bad input line: text must be valid Unicode (no lone surrogates)"
        try:
            return Inbound(channel=CHANNEL, user=self.user, message_id=message_id, **fields), None
        except ValidationError as exc:
            return None, f"bad input line: invalid {'/'.join(str(x) for x in exc.errors()[0]['loc'])}"

    def show(self, replies: list[Reply]) -> None:
        """Print replies that are not answers to a line (reminders pushed by bot/scheduler.py)."""
        self._emit(replies)

    def _emit(self, replies: list[Reply], error: str | None = None) -> None:
        if self.jsonl:
            out: dict = {"replies": [r.to_json() for r in replies]}
            if error:
                out["error"] = error
            self._write(json.dumps(out, ensure_ascii=False))
        else:
            # one plain_text for everything printed at once: one numbered list at most (the last)
            self._write("\n\n".join(([plain_text(replies)] if replies else []) + ([error] if error else [])) + "\n")

    def _write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def run_chat(engine: Engine, user: str, lang: str | None, jsonl: bool,
             stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
             between: Callable[[Console], None] | None = None) -> int:
    """`between` runs at start and before each line (bot.scheduler.console_hook prints the
    reminders that are due). Not with --jsonl, where each input line gets exactly one output
    line: there, due reminders come inside the replies (the engine's BEFORE_REPLY hook)."""
    console = Console(engine, user, stdout, jsonl=jsonl)
    if lang:
        console.set_lang(lang)
    console.resume()
    if jsonl:
        between = None
    if between:
        between(console)
    interactive = stdin.isatty() and not jsonl
    if interactive:  # a restart continues what was left unfinished; a new person gets /start
        pending = engine.welcome_back(CHANNEL, user)
        if pending:
            console.show(pending)
        else:
            console.line("/start")
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        try:
            raw = stdin.readline()
        except KeyboardInterrupt:
            break
        except UnicodeDecodeError:
            raw = "\n"
        if not raw:  # end of input
            break
        if interactive and raw.strip() in ("/quit", "/exit"):
            break
        if between:
            between(console)
        console.line(raw)
    return 0
