"""The crisis check: runs on every message, before anything else, in any language."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.knowledge.models import CrisisFile
from bot.knowledge.normalize import normalize


@dataclass(frozen=True)
class CrisisCheck:
    pattern: re.Pattern[str]
    exclude: re.Pattern[str] | None

    @classmethod
    def build(cls, crisis: CrisisFile) -> CrisisCheck:
        # Both languages always: a Chinese-speaking user may type English and vice versa.
        pattern = re.compile("|".join(f"(?:{p})" for p in crisis.zh + crisis.en), re.IGNORECASE)
        exclude = re.compile("|".join(f"(?:{p})" for p in crisis.exclude)) if crisis.exclude else None
        return cls(pattern, exclude)

    def __call__(self, text: str) -> bool:
        norm = normalize(text)
        squeezed = re.sub(r"\s+", "", norm)  # 不 想 活 / 不想 活 typed with spaces
        if self.exclude:
            norm = self.exclude.sub(" ", norm)
            squeezed = self.exclude.sub(" ", squeezed)
        return bool(self.pattern.search(norm) or self.pattern.search(squeezed))
