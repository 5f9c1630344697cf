"""Languages are content: content/<lang>/locale.yaml, lexicon.yaml, ui/, faq/, drafts/.

A third language (traditional Chinese, tests/fixtures/locales/zh-hant) is added to a copy of
content/ without touching Python; `bot check` validates it, and a user talks to the bot in it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from bot import locale
from bot.app import build_engine, fixed_clock, load_content
from bot.config import Settings
from bot.contentfiles import ContentError
from bot.flow.dates import PastDay
from bot.flow.numbers import Quantity
from bot.knowledge.normalize import normalize
from tests.conftest import NOW, Chat

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "locales" / "zh-hant"


def content_with(tmp_path: Path, *extra: Path) -> Path:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    for folder in extra:
        shutil.copytree(folder, content / folder.name)
    return content


def settings_for(tmp_path: Path, content: Path) -> Settings:
    return Settings(_env_file=None, bot_db_path=tmp_path / "bot.db", bot_content_dir=content,
                    bot_dialogs_dir=ROOT / "dialogs", bot_cache_dir=tmp_path / "cache")


def problems(settings: Settings) -> list[str]:
    with pytest.raises(ContentError) as err:
        load_content(settings)
    return [str(p) for p in err.value.problems]


@pytest.fixture(scope="module")
def hant(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("hant")
    settings = settings_for(tmp, content_with(tmp, FIXTURE))
    return settings, load_content(settings)


def test_the_shipped_languages_come_from_the_locale_files(loaded) -> None:
    k = loaded.knowledge
    assert k.languages == ["zh", "en"] == locale.available(ROOT / "content")
    assert [loc.name for loc in k.locales.values()] == ["中文", "English"]
    start = loaded.dialogs["start"].steps["lang"]
    assert start.options == ["zh", "en"]      # the /start language step offers every language


def test_a_third_language_is_a_content_change(hant) -> None:
    _settings, loaded = hant
    k = loaded.knowledge
    assert k.languages == ["zh", "en", "zh-hant"]
    assert loaded.dialogs["start"].steps["lang"].options == ["zh", "en", "zh-hant"]
    # its own texts where it has them, zh's elsewhere (fallback: zh)
    assert k.text("zh-hant", "lang.set") == "好的，接下來我用繁體中文和你交流。"
    assert k.text("zh-hant", "flow.review.ok") == k.text("zh", "flow.review.ok")
    assert k.answer("employer_contact", "zh-hant") is k.answer("employer_contact", "zh")
    assert k.facts.hotlines["police"].name.get("zh-hant") == k.facts.hotlines["police"].name.get("zh")
    # its words: a Cantonese greeting, and 老細 (the boss) is one of the 领导 words for the matcher
    assert normalize("早晨") in k.words.greetings
    assert "s:领导" in loaded.matcher._an.features(normalize("催收打電話給我老細"))
    # its formats
    assert PastDay(dt.date(2026, 11, 1), "early").text("zh-hant") == "2026年11月上旬"
    assert Quantity(30, "about").text("zh-hant") == "約30"
    assert locale.fmt_money(5000, "zh-hant") == "人民幣5,000元"
    assert locale.from_tag("zh-TW", k.languages) == "zh-hant"
    assert locale.from_tag("zh-CN", k.languages) == "zh"


def test_a_conversation_in_the_third_language(hant) -> None:
    settings, loaded = hant
    engine = build_engine(settings, clock=fixed_clock(NOW), loaded=loaded)
    chat = Chat(engine, user="hant")
    chat.say("/start")
    assert chat.labels == ["中文", "English", "繁體中文"]
    chat.press_label("繁體中文")
    assert engine.store.user_by_id(chat.user_id)["lang"] == "zh-hant"
    assert "你現在最需要哪方面的幫助？" in chat.text
    assert "催收打到我單位" in chat.labels
    chat.say("/lang")
    assert chat.labels == ["中文", "English", "繁體中文"]

    chat.say("/apr")
    assert "合同上（或App借款頁面上）寫的借款金額是多少元？" in chat.text
    for answer in ("5000", "4000", "1", "5500", "30"):
        chat.say(answer)
    assert "• 合同金额：5000" in chat.text or "：5000" in chat.text   # the review screen: label：value
    chat.press(chat.buttons[0])   # confirm
    assert "利率核算結果" in chat.text
    assert "人民幣 1,000 元" in chat.text and "人民幣 4,000 元" in chat.text   # zh-hant's money format
    assert "第26條" in chat.text   # its citations

    chat.say("早晨")
    assert chat.text == engine.k.text("zh-hant", "greeting")
    chat.say("/lang zh-hant")
    assert "好的，接下來我用繁體中文和你交流。" in chat.text


def test_a_browser_or_telegram_language_tag_picks_the_third_language(hant) -> None:
    settings, loaded = hant
    engine = build_engine(settings, clock=fixed_clock(NOW), loaded=loaded)
    chat = Chat(engine, user="tw", lang="zh-TW")
    chat.say("hi")
    assert engine.store.user_by_id(chat.user_id)["lang"] == "zh-hant"


def test_check_names_what_a_new_language_lacks(tmp_path: Path) -> None:
    content = content_with(tmp_path, FIXTURE)
    settings = settings_for(tmp_path, content)
    hant = content / "zh-hant"

    # A complete language (no fallback) needs every UI string, answer, lexicon and fact.
    text = (hant / "locale.yaml").read_text(encoding="utf-8").replace("fallback: zh", "")
    (hant / "locale.yaml").write_text(text, encoding="utf-8")
    found = "\n".join(problems(settings))
    assert "content/zh-hant/ui/core.yaml: welcome: missing (present in zh)" in found
    assert "content/zh-hant/faq/employer_contact.yaml: missing: every topic needs zh and en and zh-hant" in found
    assert "content/facts.yaml:21: hotlines.police.name: Value error, missing the text in zh-hant" in found

    # A fallback must name a language; a key must be one of the fallback's; formats are checked.
    (hant / "locale.yaml").write_text(text.replace("order: 3", "order: 3\nfallback: xx"), encoding="utf-8")
    assert "content/zh-hant/locale.yaml: fallback: no language 'xx' (languages: zh, en, zh-hant)" in problems(settings)
    (hant / "locale.yaml").write_text(text.replace('about: "約{n}"', 'about: "約"'), encoding="utf-8")
    assert "content/zh-hant/locale.yaml:23: approx.about: Value error, '約': needs ['n']" in problems(settings)

    (hant / "locale.yaml").write_text(text.replace("order: 3", "order: 3\nfallback: zh"), encoding="utf-8")
    (hant / "ui" / "apr.yaml").write_text("apr:\n  titel: 算利率\n", encoding="utf-8")
    found = "\n".join(problems(settings))
    assert "content/zh-hant/ui/apr.yaml: apr.titel: not a key of content/zh/ui/ (misspelt?)" in found


def test_check_validates_the_lexicon_and_the_menus(tmp_path: Path) -> None:
    content = content_with(tmp_path)
    settings = settings_for(tmp_path, content)
    lexicon = content / "zh" / "lexicon.yaml"
    data = yaml.safe_load(lexicon.read_text(encoding="utf-8"))
    data["no_words"].append("是")
    data["matcher"]["variants"] = {"polic": "police"}
    lexicon.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    menus = content / "menus.yaml"
    shipped = menus.read_text(encoding="utf-8")
    menus.write_text(shipped.replace("arrest_jail", "arrest_jial"), encoding="utf-8")
    found = "\n".join(problems(settings))
    assert "content/zh/lexicon.yaml: no_words.10: '是' is also a yes word (content/zh/lexicon.yaml)" in found
    assert "content/zh/lexicon.yaml: matcher.variants: not used for a language typed in han script" in found
    assert "content/menus.yaml: main_topics.7: no topic 'arrest_jial'" in found

    shutil.copy(ROOT / "content" / "zh" / "lexicon.yaml", lexicon)
    menus.write_text(shipped.replace("  ask: null\n", "  lost: must_i_repay\n"), encoding="utf-8")
    found = "\n".join(problems(settings))
    assert "content/menus.yaml: start: no line for 'ask' (dialogs/start.yaml, step need)" in found
    assert "content/menus.yaml: start.lost: not an option of dialogs/start.yaml, step need" in found


def test_the_default_language_must_be_one_of_the_content(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="BOT_DEFAULT_LANG 'fr' is not a language"):
        Settings(_env_file=None, bot_default_lang="fr")
    content = content_with(tmp_path, FIXTURE)
    assert Settings(_env_file=None, bot_content_dir=content, bot_default_lang="zh-hant").bot_default_lang == "zh-hant"


def test_a_language_the_content_no_longer_has_falls_back_to_the_default(chat: Chat) -> None:
    chat.say("/lang en")
    chat.engine.store.update_user(chat.user_id, lang="zh-hant")   # a language since removed
    chat.say("/help")
    assert chat.text.startswith(chat.engine.k.text("zh", "help").rstrip())
