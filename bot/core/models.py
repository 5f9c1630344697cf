"""What adapters hand to the core (Inbound) and what the core hands back (Reply)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_TEXT = 4000  # characters of user text kept; longer messages are cut with a notice


class Media(BaseModel):
    """A photo, voice note, video or file the user sent. The channel puts the platform's
    reference in `ref` when the message arrives (that much is journalled, so a crash loses
    nothing the platform still has), downloads it into the files directory and fills `path`,
    `sha256` and `size`; or says in `problem` why it could not ("too_big": over the per-file
    cap; "failed": the download failed; "unavailable": this channel cannot download)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["photo", "voice", "video", "file"]
    ref: str | None = Field(default=None, max_length=512)       # the platform's id (file_id, MediaId)
    name: str = Field(default="", max_length=200)               # the file's own name, if it has one
    mime: str = Field(default="application/octet-stream", max_length=100)
    path: str | None = Field(default=None, max_length=1024)     # the downloaded temporary file
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    size: int = Field(default=0, ge=0)
    problem: Literal["too_big", "failed", "unavailable"] | None = None


class Inbound(BaseModel):
    """One message from a user, whatever the channel."""

    model_config = ConfigDict(frozen=True)

    channel: str = Field(min_length=1, max_length=20)            # "console", "telegram", "web", "wechat"
    user: str = Field(min_length=1, max_length=128)              # the channel's user id
    message_id: str | None = Field(default=None, max_length=128)  # for dedup; None: not deduplicated
    text: str | None = None
    choice: str | None = Field(default=None, max_length=64)      # a button id
    lang_hint: str | None = None                                 # e.g. Telegram's language_code
    attachment: Literal["photo", "voice", "video", "file", "sticker", "location", "other"] | None = None
    media: Media | None = None                                   # a photo, voice note or file to keep


class Button(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(max_length=64)
    label: str


class FileOut(BaseModel):
    """A file offered to the user: `content` inline (exports, drafts as .txt) or a `url`."""

    model_config = ConfigDict(frozen=True)

    name: str
    content: str | None = None
    url: str | None = None
    mime: str = "text/plain"


class Reply(BaseModel):
    """One message to the user. `kind` lets adapters treat drafts and urgent notes specially."""

    model_config = ConfigDict(frozen=True)

    text: str
    buttons: tuple[Button, ...] = ()
    files: tuple[FileOut, ...] = ()
    kind: Literal["text", "answer", "question", "draft", "crisis", "notice", "reminder"] = "text"
    draft_id: str | None = None

    def to_json(self, link: Callable[[FileOut], str] | None = None) -> dict[str, Any]:
        """The one JSON shape of a reply, for `POST /api/chat` and `chat --jsonl`
        (shared/spec/interfaces.md): `{"text", "buttons": [{"id", "label"}], "files": [{"name",
        "url"}], "kind"}`. A file with inline content gets the URL `link(file)` makes for it
        (the web's short-lived links); without `link` (the terminal has no server to link to)
        its URL is "" and the content comes inline as `"content"`."""
        files: list[dict[str, Any]] = []
        for f in self.files:
            if f.content is not None and link is not None:
                files.append({"name": f.name, "url": link(f)})
            else:
                files.append({"name": f.name, "url": f.url or "", **({"content": f.content} if f.content else {})})
        return {"text": self.text, "buttons": [{"id": b.id, "label": b.label} for b in self.buttons],
                "files": files, "kind": self.kind}
