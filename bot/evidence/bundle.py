"""The evidence bundle (issue 16, item 5): one document for a police station, 12378, a local
financial bureau or a court, and the CSV of its events. Pure: the caller (bot/actions/bundle.py)
reads the log, words every label from content/<lang>/ui/bundle.yaml and hands a `Bundle` here;
this module only lays it out.

HTML: one self-contained printable page (print CSS: A4, the table's header repeated on every
page, no buttons in print), rendered by Jinja2 with autoescaping, so nothing a collector or a
witness wrote can become markup. "Print to PDF" in any browser makes the PDF (see the README:
no PDF library is light enough to be worth it here). The page carries its own styles under
the response's CSP nonce and loads nothing from outside.

CSV: the timeline table, one row per event, UTF-8 with a byte-order mark so Excel on Chinese
Windows opens it as UTF-8; `read_csv` reads it back (the tests check the round trip).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import jinja2
from markupsafe import Markup

BOM = "\ufeff"
#: the CSV's columns, in order; the header row is their labels in the bundle's language
COLUMNS = ("n", "date", "time", "kind", "who", "number", "words", "evidence", "source", "marks")


@dataclass(frozen=True)
class Row:
    """One event of the timeline table, worded."""

    n: int                      # its number in the case's log (1 = the earliest), as the chat shows it
    date: str                   # local, YYYY-MM-DD
    time: str                   # local, HH:MM
    kind: str                   # the channel: answered call, message, visit ...
    who: str                    # who was contacted
    number: str = ""            # the number or name used
    words: str = ""             # what was said (a scanned message: see the quotes)
    evidence: str = ""          # files attached to it
    source: str = ""            # entered by the borrower, a scanned message, a witness
    marks: str = ""             # night, third party, after the stop request

    def cells(self) -> list[str]:
        return [str(getattr(self, c)) for c in COLUMNS]


@dataclass(frozen=True)
class FindingItem:
    text: str                   # what the log shows, with its counts and days
    rules: tuple[str, ...]      # each rule broken, with whom it binds (content/facts.yaml)
    entries: str                # "#3, #7, #9": the rows concerned


@dataclass(frozen=True)
class Quote:
    n: int
    when: str
    text: str                   # the message in full
    findings: str = ""


@dataclass(frozen=True)
class FileItem:
    name: str
    size: str
    sha256: str
    received: str
    check: str                  # the file as kept now: hash matches / changed / missing
    ok: bool = True
    entry: str = ""             # "#4" when attached to an event


@dataclass(frozen=True)
class LetterItem:
    date: str
    what: str
    detail: str = ""


@dataclass(frozen=True)
class Bundle:
    lang: str
    labels: Mapping[str, str]                 # headings, column labels, notes (bundle.* texts)
    title: str
    cover: tuple[tuple[str, str], ...]        # (label, value): who, lender, period, addressee ...
    ask: str                                  # what is asked of the addressee
    findings: tuple[FindingItem, ...] = ()
    rows: tuple[Row, ...] = ()
    quotes: tuple[Quote, ...] = ()
    files: tuple[FileItem, ...] = ()
    letters: tuple[LetterItem, ...] = ()
    generated: str = ""                       # when this copy was made (local time)
    #: links on the screen version only: (label, href), e.g. the Chinese version, the CSV
    links: tuple[tuple[str, str], ...] = field(default_factory=tuple)


STYLE = """
*{box-sizing:border-box}
body{font:14px/1.5 "PingFang SC","Microsoft YaHei","Noto Sans CJK SC",-apple-system,sans-serif;color:#111;
margin:0 auto;padding:12px;max-width:1000px;background:#fff}
h1{font-size:1.5em;margin:.2em 0 .6em}
h2{font-size:1.15em;margin:1.4em 0 .5em;border-bottom:2px solid #333;padding-bottom:.2em}
.cover{border:1px solid #333;padding:12px 16px;margin-bottom:1em}
.cover dl{display:grid;grid-template-columns:max-content 1fr;gap:.3em 1em;margin:0}
.cover dt{font-weight:bold}
.cover dd{margin:0;white-space:pre-wrap}
.ask{margin-top:.8em;white-space:pre-wrap}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{border:1px solid #999;padding:3px 5px;vertical-align:top;text-align:left;word-break:break-word}
thead th{background:#eee}
thead{display:table-header-group}
tr{page-break-inside:avoid;break-inside:avoid}
td.n,td.num,td.date,td.time,td.number{white-space:nowrap}
td.kind,td.who,td.source{min-width:4.5em}
td.marks{min-width:6em}
td.words{min-width:14em}
code,.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em;word-break:break-all}
.finding{margin:.6em 0;page-break-inside:avoid;break-inside:avoid}
.finding p{margin:.1em 0;white-space:pre-wrap}
.finding ul{margin:.2em 0 .2em 1.2em;padding:0}
blockquote{margin:.4em 0 .8em;padding:.4em .8em;border-left:4px solid #999;background:#f6f6f6;white-space:pre-wrap;
page-break-inside:avoid;break-inside:avoid}
.bad{color:#a00;font-weight:bold}
.note{color:#444;font-size:.9em}
.links{margin:.5em 0 1em}
.links a,.links button{font:inherit;margin:0 .6em .4em 0;padding:.35em .8em;border:1px solid #07c160;border-radius:5px;
background:#07c160;color:#fff;text-decoration:none;display:inline-block;cursor:pointer}
@page{size:A4;margin:14mm 12mm}
@media print{.links{display:none}body{padding:0;max-width:none;font-size:11pt}h2{page-break-after:avoid}
.cover{page-break-after:always}}
"""

SCRIPT = 'document.getElementById("print").addEventListener("click", function () { window.print(); });'

PAGE = """<!doctype html>
<html lang="{{ tag }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">
<title>{{ b.title }}</title><style{{ nonce_attr }}>{{ style }}</style></head><body>
{%- if b.links or nonce %}
<nav class="links">{% if nonce %}<button type="button" id="print">{{ L.print }}</button>{% endif %}
{%- for label, href in b.links %}<a href="{{ href }}">{{ label }}</a>{% endfor %}</nav>
{%- endif %}
<section class="cover">
<h1>{{ b.title }}</h1>
<dl>{% for label, value in b.cover %}<dt>{{ label }}</dt><dd>{{ value }}</dd>{% endfor %}</dl>
<div class="ask"><strong>{{ L.ask }}</strong>
{{ b.ask }}</div>
<p class="note">{{ L.generated }} {{ b.generated }}</p>
</section>

<h2 id="findings">{{ L.findings }}</h2>
{%- if not b.findings %}<p>{{ L.no_findings }}</p>{% endif %}
{%- for f in b.findings %}
<div class="finding"><p><strong>{{ loop.index }}.</strong> {{ f.text }}</p>
{%- if f.rules %}<ul>{% for r in f.rules %}<li>{{ r }}</li>{% endfor %}</ul>{% endif %}
<p class="note">{{ L.entries }} {{ f.entries }}</p></div>
{%- endfor %}
<p class="note">{{ L.findings_note }}</p>

<h2 id="timeline">{{ L.timeline }}</h2>
<table id="events"><thead><tr>{% for c in columns %}<th scope="col">{{ L["col_" ~ c] }}</th>{% endfor %}</tr></thead>
<tbody>
{%- for r in b.rows %}
<tr data-n="{{ r.n }}">{% for c in columns %}<td class="{{ c }}">{{ r[c] }}</td>{% endfor %}</tr>
{%- endfor %}
</tbody></table>
{%- if not b.rows %}<p>{{ L.no_events }}</p>{% endif %}

<h2 id="messages">{{ L.messages }}</h2>
{%- if not b.quotes %}<p>{{ L.no_messages }}</p>{% endif %}
{%- for q in b.quotes %}
<p><strong>#{{ q.n }}</strong> {{ q.when }}{% if q.findings %} — {{ q.findings }}{% endif %}</p>
<blockquote>{{ q.text }}</blockquote>
{%- endfor %}

<h2 id="files">{{ L.files }}</h2>
{%- if b.files %}
<table id="file-list"><thead><tr><th>{{ L.file_name }}</th><th>{{ L.file_entry }}</th><th>{{ L.file_size }}</th>
<th>{{ L.file_received }}</th><th>SHA-256</th><th>{{ L.file_check }}</th></tr></thead><tbody>
{%- for f in b.files %}
<tr><td>{{ f.name }}</td><td>{{ f.entry }}</td><td class="num">{{ f.size }}</td><td>{{ f.received }}</td>
<td class="hash">{{ f.sha256 }}</td><td{% if not f.ok %} class="bad"{% endif %}>{{ f.check }}</td></tr>
{%- endfor %}
</tbody></table>
<p class="note">{{ L.files_note }}</p>
{%- else %}<p>{{ L.no_files }}</p>{% endif %}

<h2 id="letters">{{ L.letters }}</h2>
{%- if b.letters %}
<table id="letter-list"><thead><tr><th>{{ L.letter_date }}</th><th>{{ L.letter_what }}</th>
<th>{{ L.letter_detail }}</th></tr></thead><tbody>
{%- for l in b.letters %}<tr><td>{{ l.date }}</td><td>{{ l.what }}</td><td>{{ l.detail }}</td></tr>{% endfor %}
</tbody></table>
{%- else %}<p>{{ L.no_letters }}</p>{% endif %}
<p class="note">{{ L.footer }}</p>
{%- if nonce %}<script nonce="{{ nonce }}">{{ script }}</script>{% endif %}
</body></html>
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
_PAGE = _ENV.from_string(PAGE)


def render_html(bundle: Bundle, nonce: str | None = None) -> str:
    """The whole page. With a `nonce` (served under a CSP) it has a print button and its
    links; without (a downloaded file) it has neither script nor links, only the document."""
    tag = "zh-CN" if bundle.lang == "zh" else bundle.lang
    shown = bundle if nonce else replace(bundle, links=())
    return _PAGE.render(b=shown, L=bundle.labels, tag=tag, columns=COLUMNS, style=Markup(STYLE),
                        script=Markup(SCRIPT), nonce=nonce or "",
                        nonce_attr=Markup(' nonce="{}"').format(nonce) if nonce else "")


def render_csv(rows: Sequence[Row], labels: Mapping[str, str]) -> str:
    """The events as CSV: a header of column labels, one line per event, with a BOM."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([labels[f"col_{c}"] for c in COLUMNS])
    for row in rows:
        writer.writerow([_cell(v) for v in row.cells()])
    return BOM + out.getvalue()


def _cell(value: str) -> str:
    """A cell a spreadsheet shows as text: one starting with = + - @ would be read as a
    formula (CSV injection), so it gets a leading apostrophe, as spreadsheets expect."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def read_csv(text: str) -> list[list[str]]:
    """The CSV back as rows of cells (the header first), the BOM and the formula guard removed."""
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    return [[c[1:] if c[:2] in ("'=", "'+", "'-", "'@", "'\t", "'\r") else c for c in row] for row in rows]
