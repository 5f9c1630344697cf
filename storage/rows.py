"""What the stores return: rows as typed dicts (JSON columns already decoded), small results
as named tuples. Callers read these fields and nothing else; the SQL stays in storage/."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, TypedDict

#: inbox states for `Store.receive` (see its docstring)
InboxState = Literal["new", "pending", "undelivered", "done", "foreign"]


class UserRow(TypedDict):
    id: int
    channel: str
    external_id: str
    lang: str | None
    lang_source: str | None       # hint (platform), text (followed what they typed), chosen
    tz: str | None
    screen: list[dict[str, Any]] | None  # the buttons of the last screen shown (decoded)
    created_at: str
    last_seen: str | None


class SessionRow(TypedDict):
    user_id: int
    dialog: str
    step: str
    slots: dict[str, Any]
    history: list[str]
    invalid: int | None
    editing: bool
    paused: bool
    updated_at: str | None


class CaseRow(TypedDict):
    id: int
    user_id: int
    kind: str
    lang: str | None
    data: dict[str, Any]
    created_at: str


class UnfinishedMessage(TypedDict):
    """An inbox row not handled ("received") or not delivered ("done"), with its user's id."""

    id: int
    channel: str
    message_id: str
    user_id: int
    external_id: str
    status: str
    payload: dict[str, Any] | None   # the Inbound as JSON data, until it is handled
    replies: list[dict[str, Any]] | None
    sent: int
    received_at: str


class ReminderRow(TypedDict):
    id: int
    user_id: int
    channel: str
    kind: str                     # personal | complaint
    complaint_id: int | None
    text: str | None
    due_at: str                   # UTC, storage.reminders.iso
    status: str                   # pending, claimed, sent, cancelled
    attempts: int
    next_attempt_at: str
    claim_token: str | None
    claimed_at: str | None
    sent_at: str | None
    sent_via: str | None
    last_error: str | None
    created_at: str


class ComplaintRow(TypedDict):
    id: int
    user_id: int
    case_id: int | None
    parent_id: int | None
    body: str
    body_name: str | None
    lender: str | None
    lender_kind: str | None
    filed_on: str
    ticket: str | None
    stage: str
    due_on: str | None
    status: str
    history: list[dict[str, Any]]
    created_at: str
    updated_at: str


class Received(NamedTuple):
    """`Store.receive`: the inbox row of a message and what to do with it."""

    inbox_id: int
    state: InboxState


class Journalled(NamedTuple):
    """`Store.journal`: the sender's user row, and the message's inbox row and state."""

    user: UserRow
    inbox_id: int
    state: InboxState


class Recipient(NamedTuple):
    """Where and how a pushed reminder goes: the user's channel id, language and time zone."""

    external_id: str
    lang: str | None
    tz: str | None


class HistoryRow(TypedDict):
    """One message on the web page's screen (storage.history)."""

    id: int
    role: Literal["in", "out"]
    data: dict[str, Any]   # "in": {"text"} or {"hidden": true}; "out": a reply's JSON
    at: str


class EventRow(TypedDict):
    """One entry of the evidence log (storage.events)."""

    id: int
    user_id: int
    case_id: int | None           # cases.id: the lender; None while a scanned message is pending
    at: str                       # when it happened, UTC (storage.reminders.iso)
    kind: str                     # bot.evidence.model.KINDS
    who: str                      # bot.evidence.model.WHO
    number: str | None            # the number or name the collector used
    words: str | None             # what was said, in the user's words, or the scanned message
    findings: list[str]           # the message scanner's finding ids (decoded)
    source: str                   # user, scan, witness
    status: str                   # logged, pending (scanned, not added yet)
    witness: str | None           # item 7: who reported it, in their words
    file_id: int | None           # an attachment (evidence_files.id), when there is one
    created_at: str


class EvidenceFileRow(TypedDict):
    id: int
    user_id: int
    case_id: int | None           # None: sent before the user had a case (every case lists it)
    event_id: int | None
    name: str
    mime: str
    size: int
    sha256: str
    path: str
    received_at: str
