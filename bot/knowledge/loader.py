"""Load and validate content/: languages, facts, answers, UI strings, words and crisis words.

Everything is validated and every answer pre-rendered once at start-up, so a broken file
stops the bot with the file, line and field, and the per-message path does no template work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import re2

from bot import locale
from bot.contentfiles import ContentError, Problem, read_yaml, validate
from bot.knowledge.models import (
    CrisisCorpus,
    CrisisFile,
    Facts,
    Lexicon,
    Menus,
    OffTopicFile,
    Source,
    TopicFile,
)
from bot.knowledge.normalize import normalize
from bot.locale import Locale, load_locales


@dataclass(frozen=True)
class Answer:
    """One topic in one language, rendered and ready to show."""

    id: str
    lang: str
    title: str
    short: str
    more: str | None
    sources: tuple[str, ...]        # one line per source, with whom it binds ("more" screen)
    cites: tuple[str, ...]          # short citations, one per instrument (first screen)
    checked: str
    actions: tuple[str, ...]
    related: tuple[str, ...]
    examples: tuple[str, ...]
    keywords: tuple[str, ...]
    listed: bool


@dataclass(frozen=True)
class Reading:
    """The words of every language at once (a greeting is a greeting whatever the setting)."""

    greetings: frozenset[str] = frozenset()
    help_words: frozenset[str] = frozenset()
    yes_words: frozenset[str] = frozenset()
    no_words: frozenset[str] = frozenset()

    @classmethod
    def of(cls, lexicons: Iterable[Lexicon]) -> Reading:
        lexicons = list(lexicons)
        return cls(*(frozenset(w for lex in lexicons for w in getattr(lex, name))
                     for name in ("greetings", "help_words", "yes_words", "no_words")))


@dataclass
class Knowledge:
    root: Path
    facts: Facts
    ui: dict[str, dict[str, str]]                  # lang -> flat key -> text
    answers: dict[str, dict[str, Answer]]          # topic id -> lang -> answer
    catalog: tuple[str, ...]                       # stable topic ids that must exist
    crisis: CrisisFile
    env: jinja2.Environment = field(repr=False, default=None)  # type: ignore[assignment]
    #: lang -> questions the bot must not claim to answer (content/offtopic.yaml, optional)
    offtopic: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: the crisis detector's training corpus (content/crisis_corpus.yaml, optional)
    crisis_corpus: CrisisCorpus | None = None
    #: lang -> how it formats (content/<lang>/locale.yaml), in language order
    locales: dict[str, Locale] = field(default_factory=dict)
    #: lang -> the words the bot reads in it (content/<lang>/lexicon.yaml)
    lexicon: dict[str, Lexicon] = field(default_factory=dict)
    #: which topics are offered as buttons (content/menus.yaml)
    menus: Menus | None = None
    #: the words of every language's lexicon together (greetings, help, yes / no)
    words: Reading = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.words = Reading.of(self.lexicon.values())

    @property
    def languages(self) -> list[str]:
        """The available languages, in order (content/ folders with a locale file)."""
        return list(self.locales) or list(self.ui)

    def answer(self, topic: str, lang: str) -> Answer:
        return self.answers[topic][lang]

    def text(self, lang: str, key: str, **values: object) -> str:
        """A UI string in `lang`, with {placeholders} filled. Unknown keys raise KeyError."""
        template = self.ui[lang][key]
        return template.format_map(values) if values else template

    def has_text(self, lang: str, key: str) -> bool:
        return key in self.ui.get(lang, {})

    def render(self, template: str, lang: str, **values: object) -> str:
        """Render a Jinja2 string with the facts of `lang` plus `values` (strict)."""
        return self.env.from_string(template).render(**self.facts.view(lang), **values)


def make_env() -> jinja2.Environment:
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def flatten(data: object, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):  # YAML reads yes/no/on/off keys as booleans
                raise ContentError([Problem("", f"{prefix}{key}", "quote this key (YAML reads it as "
                                            f"{type(key).__name__})")])
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(data, str):
        out[prefix[:-1]] = data
    elif isinstance(data, int | float):
        out[prefix[:-1]] = str(data)
    return out


def load_knowledge(root: Path) -> Knowledge:
    """Load content/ from `root`. Raises ContentError listing every problem found."""
    problems: list[Problem] = []
    env = make_env()

    def attempt(fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except ContentError as exc:
            problems.extend(exc.problems)
            return None

    # The languages first: every other file is checked against them.
    locales = load_locales(root)
    locale.register(locales)
    langs = list(locales)
    fallback = {lang: loc.fallback for lang, loc in locales.items()}
    complete = [lang for lang in langs if fallback[lang] is None]

    facts_doc = attempt(read_yaml, root / "facts.yaml", root)
    facts = attempt(validate, Facts, facts_doc, root, languages=fallback) if facts_doc else None
    crisis_doc = attempt(read_yaml, root / "crisis.yaml", root)
    crisis = attempt(validate, CrisisFile, crisis_doc, root) if crisis_doc else None
    if crisis:
        for lang in ("zh", "en", "exclude", "concern"):
            for i, pattern in enumerate(getattr(crisis, lang)):
                try:
                    re2.compile(pattern)  # the crisis detector's engine (no look-arounds)
                except re2.error as exc:
                    problems.append(Problem("content/crisis.yaml", f"{lang}.{i}", f"bad pattern: {exc}"))
    crisis_corpus = None
    if (root / "crisis_corpus.yaml").exists():
        corpus_doc = attempt(read_yaml, root / "crisis_corpus.yaml", root)
        crisis_corpus = attempt(validate, CrisisCorpus, corpus_doc, root) if corpus_doc else None
    offtopic: dict[str, tuple[str, ...]] = {}
    if (root / "offtopic.yaml").exists():
        off_doc = attempt(read_yaml, root / "offtopic.yaml", root)
        off = attempt(validate, OffTopicFile, off_doc, root, languages=fallback) if off_doc else None
        if off:
            offtopic = {lang: tuple(off.root.get(lang, ())) for lang in langs}
    catalog_doc = attempt(read_yaml, root / "catalog.yaml", root)
    catalog: tuple[str, ...] = ()
    if catalog_doc:
        ids = (catalog_doc.data or {}).get("topics") if isinstance(catalog_doc.data, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            problems.append(Problem("content/catalog.yaml", "topics", "must be a list of topic ids"))
        else:
            catalog = tuple(ids)

    ui, ui_problems = _load_ui(root, locales)
    problems += ui_problems

    files: dict[str, dict[str, tuple[TopicFile, Path]]] = {}
    for lang in langs:
        for path in sorted((root / lang / "faq").glob("*.yaml")):
            doc = attempt(read_yaml, path, root)
            topic = attempt(validate, TopicFile, doc, root) if doc else None
            if topic is None:
                continue
            if topic.id != path.stem:
                problems.append(Problem(_rel(path, root), "id", f"{topic.id!r} differs from file name"))
            files.setdefault(topic.id, {})[lang] = (topic, path)

    for topic_id, by_lang in sorted(files.items()):
        for lang in complete:
            if lang not in by_lang:
                problems.append(Problem(f"content/{lang}/faq/{topic_id}.yaml", "",
                                        f"missing: every topic needs {' and '.join(complete)}"))
    answers: dict[str, dict[str, Answer]] = {}
    if facts is not None:
        for topic_id, by_lang in sorted(files.items()):
            for lang in langs:  # in language order, whatever order the files were read in
                if lang not in by_lang:
                    continue
                topic, path = by_lang[lang]
                answer = _render_answer(topic, lang, facts, env, files, path, root, problems)
                if answer:
                    answers.setdefault(topic_id, {})[lang] = answer
            for lang in langs:  # a language that falls back shows the other's answer
                source = fallback[lang]
                if lang not in by_lang and source is not None and source in answers.get(topic_id, {}):
                    answers[topic_id][lang] = answers[topic_id][source]
    for topic_id in catalog:
        if topic_id not in files:
            problems.append(Problem("content/catalog.yaml", "topics", f"topic {topic_id!r} has no answer files"))

    lexicon = _load_lexicons(root, langs, fallback, problems)
    menus = _load_menus(root, answers if facts is not None else None, problems)

    problems += _offtopic_clashes(offtopic, answers)
    if problems:
        raise ContentError(problems)
    assert facts is not None and crisis is not None and menus is not None
    return Knowledge(root, facts, ui, answers, catalog, crisis, env, offtopic, crisis_corpus,
                     locales=locales, lexicon=lexicon, menus=menus)


def _load_ui(root: Path, locales: dict[str, Locale]) -> tuple[dict[str, dict[str, str]], list[Problem]]:
    """content/<lang>/ui/*.yaml flattened to keys; the same keys in every complete language.
    A language that falls back may leave keys out (the other's text is shown), but every key
    it has must be one of the other's (a misspelt key would never be shown). The names of the
    languages are UI strings too, `lang.opt.<code>` in every language (the labels of a choice
    of language), from the locale files."""
    langs = list(locales)
    fallback = {lang: loc.fallback for lang, loc in locales.items()}
    problems: list[Problem] = []
    ui: dict[str, dict[str, str]] = {lang: {} for lang in langs}
    ui_file: dict[str, dict[str, str]] = {lang: {} for lang in langs}
    for lang in langs:
        paths = sorted((root / lang / "ui").glob("*.yaml"))
        if not paths and fallback[lang] is None:
            problems.append(Problem(f"content/{lang}/ui/", "", "no UI string files"))
        for path in paths:
            try:
                doc = read_yaml(path, root)
            except ContentError as exc:
                problems += exc.problems
                continue
            name = _rel(path, root)
            if not isinstance(doc.data, dict):
                problems.append(Problem(name, "", "must be a mapping of keys"))
                continue
            try:
                flat = flatten(doc.data)
            except ContentError as exc:
                problems += [Problem(name, p.field, p.message) for p in exc.problems]
                continue
            for key, text in flat.items():
                if key in ui[lang]:
                    problems.append(Problem(name, key, f"also defined in {ui_file[lang][key]}"))
                ui[lang][key] = text
                ui_file[lang][key] = name
    complete = [lang for lang in langs if fallback[lang] is None]
    for lang in complete:
        for other in complete:
            for key in sorted(set(ui[other]) - set(ui[lang])):
                where = ui_file[other][key].replace(f"/{other}/", f"/{lang}/")
                problems.append(Problem(where, key, f"missing (present in {other})"))
    for lang in langs:
        base = fallback[lang]
        if base is None:
            continue
        for key in sorted(set(ui[lang]) - set(ui[base])):
            problems.append(Problem(ui_file[lang][key], key, f"not a key of content/{base}/ui/ (misspelt?)"))
        ui[lang] = {**ui[base], **ui[lang]}
    for lang in langs:
        for code, loc in locales.items():
            key = f"lang.opt.{code}"
            if key in ui_file[lang]:
                problems.append(Problem(ui_file[lang][key], key, f"the name of a language is `name` in "
                                        f"content/{code}/locale.yaml"))
            ui[lang][key] = loc.name
    return ui, problems


def _load_lexicons(root: Path, langs: list[str], fallback: dict[str, str | None],
                   problems: list[Problem]) -> dict[str, Lexicon]:
    """content/<lang>/lexicon.yaml, its words normalised; a language that falls back may
    have none (it reads the other's words)."""
    out: dict[str, Lexicon] = {}
    for lang in langs:
        path = root / lang / "lexicon.yaml"
        if not path.exists() and fallback[lang] is not None:
            continue
        try:
            lexicon = validate(Lexicon, read_yaml(path, root), root)
        except ContentError as exc:
            problems += exc.problems
            continue
        script = locale.get(lang).script
        for name in (("variants", "small_talk", "patterns") if script == "han" else ("keep_whole", "senses")):
            if getattr(lexicon.matcher, name):
                problems.append(Problem(_rel(path, root), f"matcher.{name}",
                                        f"not used for a language typed in {script} script"))
        out[lang] = _normalized(lexicon)
    for lang in langs:
        if lang not in out and fallback[lang] in out:
            out[lang] = out[fallback[lang]]  # type: ignore[index]
    yes = {w: lang for lang, lex in out.items() for w in lex.yes_words}
    for lang, lex in out.items():
        for i, word in enumerate(lex.no_words):
            if word in yes:
                problems.append(Problem(f"content/{lang}/lexicon.yaml", f"no_words.{i}",
                                        f"{word!r} is also a yes word (content/{yes[word]}/lexicon.yaml)"))
    return out


def _normalized(lexicon: Lexicon) -> Lexicon:
    """The words as questions are compared: normalize() (traditional -> simplified, lower case,
    full-width folded). Regular expressions and stems stay as written."""
    def words(ws: list[str]) -> list[str]:
        return [normalize(w) for w in ws]

    m = lexicon.matcher
    matcher = m.model_copy(update={
        "stop_words": words(m.stop_words), "keep_whole": words(m.keep_whole),
        "thesaurus": [words(g) for g in m.thesaurus],
        "senses": [s.model_copy(update={"word": normalize(s.word), "followed_by": words(s.followed_by),
                                        "preceded_by": words(s.preceded_by)}) for s in m.senses]})
    return lexicon.model_copy(update={
        "greetings": words(lexicon.greetings), "help_words": words(lexicon.help_words),
        "yes_words": words(lexicon.yes_words), "no_words": words(lexicon.no_words), "matcher": matcher})


def _load_menus(root: Path, answers: dict[str, dict[str, Answer]] | None,
                problems: list[Problem]) -> Menus | None:
    try:
        menus = validate(Menus, read_yaml(root / "menus.yaml", root), root)
    except ContentError as exc:
        problems += exc.problems
        return None
    if answers is not None:
        named = [(f"main_topics.{i}", t) for i, t in enumerate(menus.main_topics)]
        named += [(f"start.{need}", t) for need, t in menus.start.items() if t is not None]
        for fld, topic in named:
            if topic not in answers:
                problems.append(Problem("content/menus.yaml", fld, f"no topic {topic!r}"))
    return menus


def _offtopic_clashes(offtopic: dict[str, tuple[str, ...]],
                      answers: dict[str, dict[str, Answer]]) -> list[Problem]:
    """An off-topic question that is also a topic's example would teach the matcher both."""
    examples = {normalize(x): topic for topic, by_lang in answers.items()
                for ans in by_lang.values() for x in ans.examples}
    return [Problem("content/offtopic.yaml", f"{lang}.{i}", f"also an example of {examples[normalize(q)]}")
            for lang, qs in offtopic.items() for i, q in enumerate(qs) if normalize(q) in examples]


def _render_answer(topic: TopicFile, lang: str, facts: Facts, env: jinja2.Environment,
                   files: dict, path: Path, root: Path, problems: list[Problem]) -> Answer | None:
    name = _rel(path, root)
    view = facts.view(lang)
    rendered: dict[str, str | None] = {}
    ok = True
    for fld in ("short", "more"):
        text = getattr(topic, fld)
        if text is None:
            rendered[fld] = None
            continue
        try:
            rendered[fld] = env.from_string(text).render(**view).strip()
        except jinja2.TemplateError as exc:
            problems.append(Problem(name, fld, f"template problem: {exc}"))
            ok = False
    for i, src in enumerate(topic.sources):
        if src.instrument not in facts.instruments:
            problems.append(Problem(name, f"sources.{i}.instrument",
                                    f"unknown instrument {src.instrument!r} (see content/facts.yaml)"))
            ok = False
    for i, action in enumerate(topic.actions):
        kind, _, target = action.partition(":")
        if kind == "topic" and target not in files:
            problems.append(Problem(name, f"actions.{i}", f"no topic {target!r}"))
            ok = False
    for i, rel in enumerate(topic.related):
        if rel not in files:
            problems.append(Problem(name, f"related.{i}", f"no topic {rel!r}"))
            ok = False
    if not ok:
        return None
    return Answer(
        id=topic.id, lang=lang, title=topic.title, short=rendered["short"] or "", more=rendered["more"],
        sources=tuple(source_line(s, facts, lang) for s in topic.sources),
        cites=citations(topic.sources, facts, lang), checked=topic.checked.isoformat(),
        actions=tuple(topic.actions), related=tuple(topic.related), examples=tuple(topic.examples),
        keywords=tuple(topic.keywords), listed=topic.listed,
    )


def source_line(src: Source, facts: Facts, lang: str) -> str:
    inst = facts.instruments[src.instrument]
    name = locale.cite(inst.name.get(lang), [src.article] if src.article else [], lang)
    line = locale.binds(name, inst.binds.get(lang), lang)
    if src.note:
        line += f" {src.note}"
    return line


def citations(sources: list[Source], facts: Facts, lang: str) -> tuple[str, ...]:
    """One short citation per instrument, its articles merged: "Criminal Law, Arts. 313, 279"."""
    articles: dict[str, list[str]] = {}
    for src in sources:
        arts = articles.setdefault(src.instrument, [])
        if src.article and src.article not in arts:
            arts.append(src.article)
    return tuple(locale.cite(facts.instruments[instrument].name.get(lang), arts, lang)
                 for instrument, arts in articles.items())


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)

