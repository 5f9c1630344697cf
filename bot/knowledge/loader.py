"""Load and validate content/: facts, answers, UI strings and crisis words.

Everything is validated and every answer pre-rendered once at start-up, so a broken file
stops the bot with the file, line and field, and the per-message path does no template work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import re2
import yaml

from bot.contentfiles import ContentError, Problem, read_yaml, validate
from bot.knowledge.models import LANGS, CrisisCorpus, CrisisFile, Facts, OffTopicFile, Source, TopicFile
from bot.knowledge.normalize import normalize


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

    facts_doc = attempt(read_yaml, root / "facts.yaml", root)
    facts = attempt(validate, Facts, facts_doc, root) if facts_doc else None
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
        off = attempt(validate, OffTopicFile, off_doc, root) if off_doc else None
        if off:
            offtopic = {lang: tuple(getattr(off, lang)) for lang in LANGS}
    catalog_doc = attempt(read_yaml, root / "catalog.yaml", root)
    catalog: tuple[str, ...] = ()
    if catalog_doc:
        ids = (catalog_doc.data or {}).get("topics") if isinstance(catalog_doc.data, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            problems.append(Problem("content/catalog.yaml", "topics", "must be a list of topic ids"))
        else:
            catalog = tuple(ids)

    ui: dict[str, dict[str, str]] = {lang: {} for lang in LANGS}
    ui_file: dict[str, dict[str, str]] = {lang: {} for lang in LANGS}
    for lang in LANGS:
        paths = sorted((root / lang / "ui").glob("*.yaml"))
        if not paths:
            problems.append(Problem(f"content/{lang}/ui/", "", "no UI string files"))
        for path in paths:
            doc = attempt(read_yaml, path, root)
            if doc is None:
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
    for lang in LANGS:
        for other in LANGS:
            for key in sorted(set(ui[other]) - set(ui[lang])):
                where = ui_file[other][key].replace(f"/{other}/", f"/{lang}/")
                problems.append(Problem(where, key, f"missing (present in {other})"))

    files: dict[str, dict[str, tuple[TopicFile, Path]]] = {}
    for lang in LANGS:
        for path in sorted((root / lang / "faq").glob("*.yaml")):
            doc = attempt(read_yaml, path, root)
            topic = attempt(validate, TopicFile, doc, root) if doc else None
            if topic is None:
                continue
            if topic.id != path.stem:
                problems.append(Problem(_rel(path, root), "id", f"{topic.id!r} differs from file name"))
            files.setdefault(topic.id, {})[lang] = (topic, path)

    answers: dict[str, dict[str, Answer]] = {}
    if facts is not None:
        for topic_id, by_lang in sorted(files.items()):
            for lang in LANGS:
                if lang not in by_lang:
                    problems.append(Problem(f"content/{lang}/faq/{topic_id}.yaml", "",
                                            "missing: every topic needs zh and en"))
            for lang, (topic, path) in by_lang.items():
                answer = _render_answer(topic, lang, facts, env, files, path, root, problems)
                if answer:
                    answers.setdefault(topic_id, {})[lang] = answer
    for topic_id in catalog:
        if topic_id not in files:
            problems.append(Problem("content/catalog.yaml", "topics", f"topic {topic_id!r} has no answer files"))

    problems += _offtopic_clashes(offtopic, answers)
    if problems:
        raise ContentError(problems)
    assert facts is not None and crisis is not None
    return Knowledge(root, facts, ui, answers, catalog, crisis, env, offtopic, crisis_corpus)


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
    name = inst.name.get(lang)
    if src.article:
        name += f" {zh_article(src.article)}" if lang == "zh" else f", Art. {src.article}"
    binds = inst.binds.get(lang)
    line = f"{name}（适用于：{binds}）" if lang == "zh" else f"{name} (binds: {binds})"
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
    out = []
    for instrument, arts in articles.items():
        name = facts.instruments[instrument].name.get(lang)
        if arts and lang == "zh":
            name += " " + "、".join(zh_article(a) for a in arts)
        elif arts:
            name += (", Art. " if len(arts) == 1 else ", Arts. ") + ", ".join(arts)
        out.append(name)
    return tuple(out)


_ZH_ORDINAL = {"1": "一", "2": "二", "3": "三", "4": "四", "5": "五"}


def zh_article(article: str) -> str:
    """"293-1" -> "第293条之一" (how Chinese law numbers inserted articles); "1034-1035" and
    plain numbers -> "第1034-1035条", "第47条"."""
    base, dash, sub = article.partition("-")
    if dash and sub in _ZH_ORDINAL and len(sub) < len(base):
        return f"第{base}条之{_ZH_ORDINAL[sub]}"
    return f"第{article}条"


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def dump_yaml(data: object) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
