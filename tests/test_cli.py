"""The command line as other programs use it: real processes, real pipes, a real database."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import shipped, shown, ui, ui_head

ROOT = Path(__file__).resolve().parent.parent


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "WECHAT_"))}
    e.update({"BOT_DB_PATH": str(tmp_path / "bot.db"), "PYTHONUNBUFFERED": "1"})
    for key in ("BOT_CONTENT_DIR", "BOT_DIALOGS_DIR"):
        if key in os.environ:
            e[key] = os.environ[key]
    e.update(extra)
    return e


def run(args: list[str], tmp_path: Path, stdin: str = "", **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True,
                          text=True, cwd=tmp_path, env=env(tmp_path, **extra), timeout=120)


def read_until(proc: subprocess.Popen, needle: str, timeout: float = 30) -> str:
    """Read stdout until `needle` shows up, without waiting for the process to end."""
    return read_fd(proc.stdout.fileno(), needle, timeout)


def read_fd(fd: int, needle: str, timeout: float = 30) -> str:
    """Read a pipe or a terminal until `needle` shows up (EIO from a closed terminal is its end)."""
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} not seen; got {seen[-800:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"output ended before {needle!r}: {seen[-800:]!r}")
            seen += chunk.decode("utf-8", "replace")
    return seen


def test_chat_pipe_answers_each_line_as_it_arrives(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "bot", "chat", "--lang", "en"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tmp_path, env=env(tmp_path))
    try:
        proc.stdin.write(b"/start\n")
        proc.stdin.flush()
        out = read_until(proc, f"[2] {ui('lang.opt.en')}")          # answered while stdin is still open
        assert f"[1] {ui('lang.opt.zh')}" in out
        proc.stdin.write(b"2\n")
        proc.stdin.flush()
        out = read_until(proc, ui("start.need.q", "en"))
        proc.stdin.write(ui("start.need.opt.employer", "en").encode() + b"\n")  # the label works too
        proc.stdin.flush()
        out = read_until(proc, "checked 2026")
        assert shipped().knowledge.answer("employer_contact", "en").title in out
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()


def test_chat_exits_zero_at_end_of_input_and_survives_garbage(tmp_path):
    garbage = "\x00\x01\n" + "啊" * 10_000 + "\n\n/nosuch\n🙂\n"
    result = run(["chat"], tmp_path, stdin=garbage)
    assert result.returncode == 0, result.stderr
    assert shown("input.too_long", result.stdout) and ui("input.unknown_command", command="/nosuch") in result.stdout
    assert "Traceback" not in result.stderr


def test_binary_input_does_not_crash(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bot", "chat"], input=b"\xff\xfe\xfa\n\x80abc\n",
                            capture_output=True, cwd=tmp_path, env=env(tmp_path), timeout=60)
    assert result.returncode == 0 and b"Traceback" not in result.stderr


def test_dialog_started_in_one_process_finishes_in_another(tmp_path):
    first = run(["chat", "--user", "amy"], tmp_path, stdin="/start\n2\n")
    assert first.returncode == 0 and ui("start.need.q", "en") in first.stdout
    second = run(["chat", "--user", "amy"], tmp_path, stdin="4\n")
    assert second.returncode == 0, second.stderr
    assert "22:00" in second.stdout  # the night-calls answer: the dialog went on at step 2
    other = run(["chat", "--user", "bob"], tmp_path, stdin="4\n")
    assert "22:00" not in other.stdout  # another user's state is separate


def test_jsonl_one_line_out_per_line_in(tmp_path):
    lines = [json.dumps({"text": "/start"}), json.dumps({"choice": "o:en"}), "not json",
             json.dumps(["a list"]), json.dumps({"choice": "o:employer"}), json.dumps({"text": "where do i complain"})]
    result = run(["chat", "--jsonl", "--user", "j"], tmp_path, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    assert out[0]["replies"][-1]["buttons"][:2] == [{"id": "o:zh", "label": ui("lang.opt.zh")},
                                                    {"id": "o:en", "label": ui("lang.opt.en")}]
    assert out[1]["replies"][-1]["text"].startswith(ui("start.need.q", "en"))
    assert out[2]["replies"] == [] and "error" in out[2] and "error" in out[3]
    assert out[4]["replies"][0]["text"].startswith(shipped().knowledge.answer("employer_contact", "en").title)
    assert all(set(r) >= {"text", "buttons", "files"} for o in out for r in o["replies"])


def test_ask_json_one_object_per_question(tmp_path):
    questions = "网贷催收打电话到我单位合法吗\nwhat's the weather tomorrow\n催收爆通讯录怎么办\n"
    result = run(["ask", "--json"], tmp_path, stdin=questions)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["topic"] for r in rows] == ["employer_contact", None, "contacts_contact"]
    assert rows[0]["lang"] == "zh" and 0 < rows[0]["confidence"] <= 1 and "GB/T 45251" in rows[0]["answer"]
    assert rows[1]["lang"] == "en"


def test_ask_with_arguments_and_crisis(tmp_path):
    result = run(["ask", "--json", "i", "want", "to", "die"], tmp_path)
    row = json.loads(result.stdout)
    assert row["topic"] == "crisis_support" and "12356" in row["answer"]


def test_check_passes_on_the_repository(tmp_path):
    result = run(["check"], tmp_path)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("ok:")


@pytest.fixture
def broken(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(os.environ.get("BOT_CONTENT_DIR", ROOT / "content"), content)
    return content


def test_check_names_file_line_and_field(tmp_path, broken):
    faq = broken / "en" / "faq" / "employer_contact.yaml"
    text = faq.read_text()
    checked = next(line for line in text.splitlines() if line.startswith("checked: "))
    faq.write_text(text.replace(checked, "checked: someday")
                   .replace("{{ hotlines.nfra.number }}", "{{ hotlines.nosuch.number }}"))
    result = run(["check"], tmp_path, BOT_CONTENT_DIR=str(broken))
    assert result.returncode == 1
    assert "content/en/faq/employer_contact.yaml:" in result.stdout and "checked" in result.stdout
    broken_ref = run(["check"], tmp_path, BOT_CONTENT_DIR=str(broken))
    assert "employer_contact.yaml" in broken_ref.stdout


def test_unknown_fact_reference_fails_check(tmp_path, broken):
    faq = broken / "zh" / "faq" / "employer_contact.yaml"
    faq.write_text(faq.read_text().replace("{{ hotlines.nfra.number }}", "{{ hotlines.nosuch.number }}"))
    result = run(["check"], tmp_path, BOT_CONTENT_DIR=str(broken))
    assert result.returncode == 1
    assert "content/zh/faq/employer_contact.yaml: short: template problem" in result.stdout
    assert "nosuch" in result.stdout


def test_missing_file_stops_start_up_naming_it(tmp_path, broken):
    (broken / "zh" / "faq" / "employer_contact.yaml").unlink()
    result = run(["chat"], tmp_path, stdin="hi\n", BOT_CONTENT_DIR=str(broken))
    assert result.returncode == 1
    assert "content/zh/faq/employer_contact.yaml" in result.stderr and "missing" in result.stderr


def test_missing_language_of_ui_string_is_reported(tmp_path, broken):
    ui = broken / "en" / "ui" / "core.yaml"
    ui.write_text(ui.read_text().replace("  ask_prompt: Sure, just type your question.\n", ""))
    result = run(["check"], tmp_path, BOT_CONTENT_DIR=str(broken))
    assert result.returncode == 1 and "start.ask_prompt" in result.stdout


def _tty_chat(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """`python -m bot chat` on a pseudo-terminal, as a person runs it."""
    import pty

    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "chat", "--lang", "zh"], stdin=child, stdout=child,
                            stderr=subprocess.DEVNULL, cwd=tmp_path, env=env(tmp_path), close_fds=True)
    os.close(child)
    return proc, main


def test_an_interactive_restart_continues_the_report(tmp_path):
    proc, tty = _tty_chat(tmp_path)
    try:
        read_fd(tty, "> ", 60)                                   # a new person: /start's welcome
        os.write(tty, b"/report\n")
        read_fd(tty, ui("report.role.q"))
        os.write(tty, b"/quit\n")
        proc.wait(30)
    finally:
        proc.kill()
        os.close(tty)
    proc, tty = _tty_chat(tmp_path)
    try:
        out = read_fd(tty, "> ", 60)
        assert ui_head("welcome_back") in out and ui("report.role.q") in out   # the report's question, not /start
        os.write(tty, b"1\n")                                  # and its answer is taken
        out = read_fd(tty, "> ", 60)
        assert ui("report.lender.q") in out, out[-500:]                # the report's next question
        os.write(tty, b"/quit\n")
        proc.wait(30)
    finally:
        proc.kill()
        os.close(tty)
