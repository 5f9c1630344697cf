"""Command line: python -m bot run | chat | ask | check (see shared/spec/interfaces.md)."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from bot.config import Settings
from bot.contentfiles import ContentError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="Borrower Guard chatbot")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start every configured channel (today: the terminal chat)")
    chat = sub.add_parser("chat", help="chat in the terminal")
    chat.add_argument("--lang", choices=["zh", "en"])
    chat.add_argument("--user", default="local", help="user id (default: local)")
    chat.add_argument("--jsonl", action="store_true", help="JSON lines in and out, for programs")
    ask = sub.add_parser("ask", help="answer questions without a conversation")
    ask.add_argument("question", nargs="*")
    ask.add_argument("--lang", choices=["zh", "en"])
    ask.add_argument("--json", action="store_true")
    sub.add_parser("check", help="validate content/ and dialogs/")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    for stream in (sys.stdin, sys.stdout):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")
    settings = Settings()
    if args.command == "check":
        return check(settings)
    try:
        if args.command == "ask":
            return ask(settings, args.question, args.lang, args.json)
        from bot.app import build_engine
        from bot.channels.console import run_chat

        engine = build_engine(settings)
        if args.command == "run":
            print(f"Borrower Guard: terminal chat (database {settings.bot_db_path}). "
                  "Type a question; /help for commands, Ctrl-D to quit.", file=sys.stderr)
            return run_chat(engine, "local", None, jsonl=False)
        return run_chat(engine, args.user, args.lang, args.jsonl)
    except ContentError as exc:
        print("Content problems, the bot cannot start:", file=sys.stderr)
        print(exc, file=sys.stderr)
        return 1


def check(settings: Settings) -> int:
    from bot.app import load_content

    try:
        loaded = load_content(settings)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"ok: {len(loaded.knowledge.answers)} topics in zh and en, "
          f"{len(loaded.dialogs)} dialogs, {sum(len(v) for v in loaded.knowledge.ui.values())} UI strings")
    return 0


def ask(settings: Settings, questions: list[str], lang: str | None, as_json: bool) -> int:
    from bot.app import load_content
    from bot.core.answering import answer_question

    loaded = load_content(settings)
    from bot.knowledge.matcher import Matcher

    matcher = Matcher.build(loaded.knowledge)
    source = [" ".join(questions)] if questions else (line for line in sys.stdin)
    for q in source:
        q = q.strip()
        if not q:
            continue
        result = answer_question(loaded.knowledge, matcher, q, lang)
        if as_json:
            print(json.dumps(result, ensure_ascii=False), flush=True)
        else:
            print(result["answer"] + "\n", flush=True)
    return 0
