"""Command line: python -m bot run | serve | telegram | chat | ask | scan | check | dialog | wechat-menu (see
shared/spec/interfaces.md)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.contentfiles import ContentError
from bot.locale import available

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
    chat.add_argument("--lang", help="a language of content/ (zh, en ...)")
    chat.add_argument("--user", default="local", help="user id (default: local)")
    chat.add_argument("--jsonl", action="store_true", help="JSON lines in and out, for programs")
    ask = sub.add_parser("ask", help="answer questions without a conversation")
    ask.add_argument("question", nargs="*")
    ask.add_argument("--lang", help="a language of content/ (zh, en ...)")
    ask.add_argument("--json", action="store_true")
    scan = sub.add_parser("scan", help="check a collector's message for what the rules forbid "
                          "(shared/spec/message-findings.yaml)")
    scan.add_argument("text", nargs="*", help="the message (all arguments together); without it, all of stdin")
    scan.add_argument("--lang", help="the answer's language (default: the message's)")
    scan.add_argument("--json", action="store_true", help='print {"findings": [...], "lang": ...}')
    scan.add_argument("--jsonl", action="store_true",
                      help='one {"text": ...} per input line, one {"findings", "lang"} line out per line')
    sub.add_parser("check", help="validate content/ and dialogs/")
    sub.add_parser("wechat-menu", help="publish the WeChat custom menu of content/wechat_menu.yaml "
                   "(needs WECHAT_APP_ID and WECHAT_APP_SECRET)")
    script = sub.add_parser("dialog", help="print a dialog as a readable script (for content editors)")
    script.add_argument("id", help="dialog id (a file name in dialogs/)")
    script.add_argument("--lang", help="a language of content/ (default: BOT_DEFAULT_LANG)")
    return p


def dialog_script(settings: Settings, dialog_id: str, lang: str) -> int:
    from bot.app import load_content
    from bot.flow.script import render_script

    try:
        loaded = load_content(settings)
    except ContentError as exc:
        print(exc, file=sys.stderr)
        return 1
    if dialog_id not in loaded.dialogs:
        print(f"no dialog {dialog_id!r}; there are: {', '.join(sorted(loaded.dialogs))}", file=sys.stderr)
        return 2
    if lang not in loaded.knowledge.languages:
        print(f"no language {lang!r}; there are: {', '.join(loaded.knowledge.languages)}", file=sys.stderr)
        return 2
    print(render_script(loaded.dialogs[dialog_id], loaded.knowledge, lang))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    for stream in (sys.stdin, sys.stdout):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")
    settings = Settings()
    languages = available(settings.bot_content_dir)  # the folders of content/ with a locale.yaml
    if args.command in ("chat", "ask", "scan") and args.lang and args.lang not in languages:
        parser.error(f"argument --lang: invalid choice: {args.lang!r} (choose from {', '.join(map(repr, languages))})")
    if args.command == "check":
        return check(settings)
    if args.command == "wechat-menu":
        return wechat_menu(settings)
    if args.command == "dialog":
        return dialog_script(settings, args.id, args.lang or settings.bot_default_lang)
    if args.command == "scan":  # loads only what it needs: no matcher, no crisis model
        return scan_messages(settings, args)
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

    from bot.channels import MODULES, SERVED
    from bot.channels.http import run_services

    channels = {"run": tuple(MODULES), "serve": SERVED, "telegram": ("telegram",)}[args.command]
    http = args.command != "telegram" or bool(settings.telegram_webhook_url)
    return asyncio.run(run_services(settings, engine, channels=channels, http=http,
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
    extra = entry_problems(settings, loaded)
    if extra:
        for line in extra:
            print(line)
        print(f"{len(extra)} problem(s)", file=sys.stderr)
        return 1
    langs = loaded.knowledge.languages
    in_langs = f"{', '.join(langs[:-1])} and {langs[-1]}" if len(langs) > 1 else langs[0]
    print(f"ok: {len(loaded.knowledge.answers)} topics in {in_langs}, "
          f"{len(loaded.dialogs)} dialogs, {sum(len(v) for v in loaded.knowledge.ui.values())} UI strings")
    return 0


def entry_problems(settings: Settings, loaded: Any) -> list[str]:
    """content/wechat_menu.yaml against WeChat's limits and content/deeplinks.yaml, both
    naming commands the bot knows: `file: field: message` lines."""
    import bot.actions.builtin  # noqa: F401  (registers every feature's commands)
    from bot.actions.registry import COMMANDS
    from bot.channels.deeplinks import check_scenes, load_scenes
    from bot.channels.wechat.menu import check_menu_file, load_menu
    from bot.core.screens import CORE_COMMANDS

    content = settings.bot_content_dir
    known = set(CORE_COMMANDS) | set(COMMANDS) | {"privacy"} | {c for d in loaded.dialogs.values() for c in d.commands}
    problems = [f"{f}: {field}: {m}" for f, field, m in check_menu_file(content) + check_scenes(content)]
    used: list[tuple[str, str, str]] = []
    if not problems and (content / "wechat_menu.yaml").is_file():
        def walk(buttons: list, where: str) -> None:
            for i, b in enumerate(buttons):
                if "sub" in b:
                    walk(b["sub"], f"{where}[{i}].sub")
                elif "command" in b:
                    used.append((str(content / "wechat_menu.yaml"), f"{where}[{i}].command", b["command"]))
        walk(load_menu(content)["buttons"], "buttons")
    load_scenes.cache_clear()
    used += [(str(content / "deeplinks.yaml"), f"scenes.{k}", v) for k, v in load_scenes(content).items()]
    for file, field, command in used:
        if command.strip()[1:] not in known:
            problems.append(f"{file}: {field}: unknown command {command!r}")
    return problems


def wechat_menu(settings: Settings) -> int:
    """python -m bot wechat-menu: publish content/wechat_menu.yaml as the account's menu."""
    import asyncio

    from bot.channels.wechat.api import WeChatAPI, WeChatAPIError
    from bot.channels.wechat.menu import MenuError, load_menu, menu_payload

    if not (settings.wechat_app_id and settings.wechat_app_secret):
        print("WECHAT_APP_ID and WECHAT_APP_SECRET must be set to publish the menu.", file=sys.stderr)
        return 2
    try:
        payload = menu_payload(load_menu(settings.bot_content_dir), settings.bot_public_url)
    except (OSError, MenuError) as exc:
        print(f"content/wechat_menu.yaml: {exc}", file=sys.stderr)
        return 1

    async def publish() -> None:
        from storage import Store, open_db

        store = Store(open_db(settings.bot_db_path))   # the access token is the one all processes share
        api = WeChatAPI(settings.wechat_api_base_url, settings.wechat_app_id or "", settings.wechat_app_secret or "",
                        shared=store.shared)
        try:
            await api.create_menu(payload)
        finally:
            await api.close()

    try:
        asyncio.run(publish())
    except (WeChatAPIError, OSError) as exc:
        print(f"WeChat refused the menu: {exc}", file=sys.stderr)
        return 1
    count = sum(len(b.get("sub_button", [])) or 1 for b in payload["button"])
    print(f"published the WeChat menu: {len(payload['button'])} buttons, {count} entries")
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


def scan_messages(settings: Settings, args: argparse.Namespace) -> int:
    """python -m bot scan: the findings of one message (the arguments, or all of stdin), as
    a readable answer or with --json; with --jsonl one message per line, one line out each."""
    from bot.knowledge.normalize import detect_lang
    from bot.knowledge.scan import Scanner, load_light

    try:
        content = load_light(settings.bot_content_dir)
    except ContentError as exc:
        print("Content problems, the scanner cannot start (python -m bot check lists them):", file=sys.stderr)
        print(exc, file=sys.stderr)
        return 1
    scanner = Scanner.build(content.config, content.corpus, settings.bot_cache_dir)
    langs = content.languages
    default = settings.bot_default_lang if settings.bot_default_lang in langs else langs[0]

    def lang_of(text: str) -> str:
        return args.lang or detect_lang(text, langs) or default

    if args.jsonl:
        for line in sys.stdin:
            out: dict[str, object]
            try:
                item = json.loads(line)
                text = item.get("text") if isinstance(item, dict) else None
                if not isinstance(text, str):
                    raise ValueError('expected a JSON object with a "text" string')
                out = {"findings": scanner.scan(text), "lang": lang_of(text)}
            except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
                reason = "not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)[:100]
                out = {"findings": [], "lang": args.lang or default, "error": reason}
            print(json.dumps(out, ensure_ascii=False), flush=True)
        return 0
    text = " ".join(args.text) if args.text else sys.stdin.read()
    lang = lang_of(text)
    if args.json:
        print(json.dumps({"findings": scanner.scan(text), "lang": lang}, ensure_ascii=False), flush=True)
    else:
        print(content.texts.render(scanner.explain(text), lang), flush=True)
    return 0
