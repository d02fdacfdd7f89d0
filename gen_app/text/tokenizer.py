"""Character-level tokenizer: one token per character of the training text, plus one for unknown ones.

Saved as tokenizer.json next to the weights ({"type": "char", "chars": "..."}). Characters the model never
saw map to the unknown token (shown as "?" when decoded), and the pipeline tells the user which ones.
"""

from __future__ import annotations

import json
from pathlib import Path

UNKNOWN = "\ufffd"


class CharTokenizer:
    def __init__(self, chars: str):
        self.chars = UNKNOWN + "".join(c for c in chars if c != UNKNOWN)
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        return cls("".join(sorted(set(text))))

    @classmethod
    def load(cls, path: str | Path) -> CharTokenizer:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("type") != "char":
            raise ValueError(f"{path}: not a character tokenizer")
        return cls(data["chars"])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"type": "char", "chars": self.chars[1:]}, ensure_ascii=False), "utf-8")

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def unknown_chars(self, text: str) -> list[str]:
        return sorted({c for c in text if c not in self.index})

    def encode(self, text: str) -> list[int]:
        return [self.index.get(c, 0) for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join("?" if i == 0 else self.chars[i] for i in ids)
