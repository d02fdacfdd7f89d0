"""The text model's tokenizers, saved as tokenizer.json next to the weights.

- `CharTokenizer`: one token per character of the training text, plus one for unknown characters
  ({"type": "char", "chars": "..."}). Characters the model never saw map to the unknown token (shown as "?"
  when decoded), and the pipeline tells the user which ones.
- `BPETokenizer`: byte-level BPE trained with Hugging Face `tokenizers` (its own tokenizer.json format).
  Every string encodes (bytes never seen in training are still bytes), so nothing is unknown.

Both refuse text that is not valid Unicode (a lone surrogate, which JSON can carry) with InvalidInput.

train/text/train.py picks one with --tokenizer; the choice was made by measurement (see the model card).
`load_tokenizer` reads either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from gen_app.limits import check_text

UNKNOWN = "\ufffd"


class Tokenizer(Protocol):
    kind: str

    @property
    def vocab_size(self) -> int: ...
    def unknown_chars(self, text: str) -> list[str]: ...
    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: list[int]) -> str: ...
    def save(self, path: str | Path) -> None: ...


class CharTokenizer:
    kind = "char"

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
        check_text("The text", text)  # a lone surrogate would come back out of decode() and break any writer
        return [self.index.get(c, 0) for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join("?" if i == 0 else self.chars[i] for i in ids)


class BPETokenizer:
    kind = "bpe"

    def __init__(self, tokenizer):  # a tokenizers.Tokenizer
        self.tokenizer = tokenizer

    @classmethod
    def train(cls, text: str, vocab_size: int) -> BPETokenizer:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.BPE())
        # No prefix space: the text is one stream, and a prompt must encode the way the same text did in training.
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
        )
        tokenizer.train_from_iterator(text.splitlines(keepends=True), trainer)
        return cls(tokenizer)

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: str | Path) -> None:
        self.tokenizer.save(str(path))

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def unknown_chars(self, text: str) -> list[str]:
        return []

    def encode(self, text: str) -> list[int]:
        check_text("The text", text)  # tokenizers raises a bare TypeError on a lone surrogate
        return self.tokenizer.encode(text).ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids)


def load_tokenizer(path: str | Path) -> CharTokenizer | BPETokenizer:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return CharTokenizer.load(path) if data.get("type") == "char" else BPETokenizer.load(path)


def train_tokenizer(kind: str, text: str, vocab_size: int = 0) -> CharTokenizer | BPETokenizer:
    return CharTokenizer.train(text) if kind == "char" else BPETokenizer.train(text, vocab_size)
