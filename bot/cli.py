"""Command line: python -m bot run | serve | telegram | chat | ask | check (see shared/spec/interfaces.md)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.contentfiles import ContentError

if TYPE_CHECKING:
    from bot.core.engine import Engine


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="Borrower Guard chatbot")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start every configured channel: the HTTP server, and Telegram when "
                   "TELEGRAM_BOT_TOKEN is set")
    sub.add_parser("telegram", help="Telegram only: long polling, or webhook mode when TELEGRAM_WEBHOOK_URL is set")
    serve = sub.add_parser("serve", help="the HTTP server only (plus the reminder loop)")
    serve.add_argument("--host", help="address (default BOT_HOST)")
    serve.add_argument("--port", type=int, help="port (default BOT_PORT; 0 picks a free one)")
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
    if args.command == "telegram" and not settings.telegram_bot_token:  # before the content loads
        print("TELEGRAM_BOT_TOKEN is not set.", file=sys.stderr)
        return 2
    try:
        if args.command == "ask":
            return ask(settings, args.question, args.lang, args.json)
        from bot.app import build_engine
        from bot.channels.console import run_chat

        engine = build_engine(settings)
        if args.command in ("run", "serve", "telegram"):
            return services(settings, engine, args)
        from bot.scheduler import console_hook  # due reminders, printed at start and between messages

        return run_chat(engine, args.user, args.lang, args.jsonl, between=console_hook(engine))
    except ContentError as exc:
        print("Content problems, the bot cannot start:", file=sys.stderr)
        print(exc, file=sys.stderr)
        return 1


def services(settings: Settings, engine: Engine, args: argparse.Namespace) -> int:
    """run: the HTTP server plus Telegram when a token is set; serve: HTTP only; telegram:
    Telegram only (its webhook still needs the HTTP server, with /telegram and /healthz)."""
    import asyncio

    from bot.channels.http import run_services

    telegram = args.command == "telegram" or (args.command == "run" and bool(settings.telegram_bot_token))
    http = args.command != "telegram" or bool(settings.telegram_webhook_url)
    hooks = [] if args.command == "telegram" else None
    return asyncio.run(run_services(settings, engine, http=http, telegram=telegram, hooks=hooks,
                                    host=getattr(args, "host", None), port=getattr(args, "port", None)))


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
        result = answer_question(loaded.knowledge, matcher, q, lang, loaded.crisis)
        if as_json:
            print(json.dumps(result, ensure_ascii=False), flush=True)
        else:
            print(result["answer"] + "\n", flush=True)
    return 0
