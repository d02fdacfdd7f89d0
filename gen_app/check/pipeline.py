"""Tell whether a file or a text came from this app: the watermark of its medium, and the metadata the app writes.
Usable without Gradio:

from gen_app.check.pipeline import Checker
checker = Checker.load()
print(checker.check_file("face.png").markdown())
print(checker.check_text("ROMEO:\\nBut soft, ...").markdown())
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image, UnidentifiedImageError

from gen_app.images import open_user_image
from gen_app.limits import InvalidInput, check_text
from gen_app.loading import ModelLoadError, shown_path
from gen_app.provenance.audio import detect_audio
from gen_app.provenance.credentials import TRAINED_ALGORITHMIC_MEDIA, identity, read_credentials
from gen_app.provenance.image import Z_THRESHOLD as Z_IMAGE
from gen_app.provenance.image import detect_image
from gen_app.provenance.keys import DEFAULT_KEY, watermark_key
from gen_app.provenance.text import GAMMA, MIN_TOKENS, GreenList, detect_tokens
from gen_app.sampling import LanguageModel

log = logging.getLogger(__name__)

MAX_CHECK_PIXELS = 70_000_000  # the largest image the app makes is a 67-megapixel upscale
MAX_CHECK_SIDE = 16_384
MAX_CHECK_SECONDS = 600
MAX_CHECK_CHARS = 200_000
MAX_TEXT_FILE_BYTES = 1_000_000
IMAGE_TYPES = ".png .jpg .jpeg .webp .bmp .gif .tif .tiff"
AUDIO_TYPES = ".wav .flac .ogg .mp3"
MAX_MIDI_BYTES = 2_000_000


@dataclass
class Report:
    kind: str  # "image", "audio", "text" or "midi"
    verdict: str  # one sentence
    checks: list[tuple[str, str]] = field(default_factory=list)  # (what was checked, what was found), plain words
    details: dict = field(default_factory=dict)  # the numbers, for the API

    def markdown(self) -> str:
        lines = [f"**{self.verdict}**", ""] + [f"- **{name}:** {finding}" for name, finding in self.checks]
        return "\n".join(lines)


def credentials_summary(path: Path, mime: str | None) -> str:
    """The C2PA manifest in plain words: present, what it says made the file, whether its signature holds."""
    if mime is None:
        return "not checked (only PNG, JPEG, GIF and WAV files carry them here)."
    found = read_credentials(path.read_bytes(), mime)
    if not found.present:
        return "none (a re-saved copy, a screenshot or a converted file loses them; the watermark stays)."
    if not found.signature_valid:
        return "present but NOT valid: " + "; ".join(found.problems) + ". The file was changed after it was signed."
    made = "a trained model (AI-generated)" if found.source_type == TRAINED_ALGORITHMIC_MEDIA else found.source_type
    who = (
        "whose certificate is on the reader's trust list"
        if found.trusted
        else "whose certificate is on no trust list (this app's self-signed demo identity, unless the deployment "
        "configured its own)"
    )
    return f"valid signature by {found.signer or 'an unnamed signer'}, {who}; it says it was made by {made}, model " + (
        f"{found.generator!r}." if found.generator else "not named."
    )


def signing_note() -> str:
    try:
        demo = identity().demo
    except Exception:  # a configured key that cannot be read: the log says why, downloads go unsigned
        return "Content credentials: the configured signing key could not be read, so downloads are not signed."
    if demo:
        return (
            "Downloads are signed with C2PA content credentials by a **self-signed demo identity** made by this "
            "app at its first start: readers will show the signature as valid but the signer as untrusted."
        )
    return "Downloads are signed with C2PA content credentials by this deployment's own certificate."


def key_note() -> str:
    if watermark_key() == DEFAULT_KEY:
        return "This app uses the public demo key, so anyone could also make (or remove) these marks."
    return "This app's own key was used: only it can make these marks."


def p_text(p_value: float) -> str:
    if p_value < 1e-300:
        return "p < 1e-300"
    return f"p = {p_value:.1e}" if p_value < 0.001 else f"p = {p_value:.3f}"


class Checker:
    def __init__(self, language: LanguageModel | None, text_problem: str = ""):
        """`language`: the text tab's model, whose tokens the text watermark is counted in; None when it could not be
        loaded (`text_problem` says why): images and sound are still checked."""
        self.tokenizer = language.tokenizer if language else None
        self.green_list = GreenList.for_key(language.model.vocab_size) if language else None
        self.text_problem = text_problem

    @classmethod
    def load(cls) -> Checker:
        try:
            return cls(LanguageModel.load("text"))
        except ModelLoadError as error:
            log.warning("the check tab cannot check text: %s", error)
            return cls(None, f"`{shown_path(error.file)}` {error.problem}")

    def check_file(self, path: str | Path | None) -> Report:
        """An image, an audio file or a text file."""
        if path is None:
            raise InvalidInput("Please drop a file first (an image, an audio file or a text file), or paste text.")
        path = Path(path)
        try:
            with Image.open(path) as probe:
                image_format = probe.format  # only the header: the size is checked before decoding
            return self.check_image(path, image_format)
        except UnidentifiedImageError:
            pass  # not an image: try sound, then text
        except Image.DecompressionBombError:
            limit = f"{MAX_CHECK_PIXELS / 1e6:.0f} megapixels"
            raise InvalidInput(f"The image is far too large; the limit is {limit}.") from None
        except OSError:
            raise InvalidInput("The image file could not be read; it may be damaged or incomplete.") from None
        try:
            info = soundfile.info(str(path))
        except (soundfile.LibsndfileError, RuntimeError, TypeError):
            info = None
        if info is not None:
            return self.check_audio(path, info)
        if path.read_bytes()[:4] == b"MThd":
            return self.check_midi(path)
        return self.check_text_file(path)

    def check_midi(self, path: Path) -> Report:
        """MIDI files carry no watermark (their notes are the music); report what their text events say."""
        import mido

        if path.stat().st_size > MAX_MIDI_BYTES:
            raise InvalidInput(f"The MIDI file is over {MAX_MIDI_BYTES // 1_000_000} MB; the limit for checking it.")
        try:
            midi = mido.MidiFile(str(path))
            texts = [m.text for track in midi.tracks for m in track if m.is_meta and m.type in ("text", "track_name")]
        except (OSError, ValueError, EOFError, KeyError, IndexError):
            raise InvalidInput("The MIDI file could not be read; it may be damaged or incomplete.") from None
        ours = [t for t in texts if "gen_app" in t]
        finding = f"text events say: {ours[0]!r}." if ours else "no gen_app text events."
        checks = [
            ("Invisible watermark", "not applicable: a MIDI file holds notes only, with no sound to hide a mark in."),
            ("Metadata", f"{finding} Metadata can be edited by anyone."),
        ]
        verdict = (
            "This MIDI file says it came from gen_app." if ours else "This MIDI file does not say it came from gen_app."
        )
        return Report("midi", verdict, checks, {"watermark": {"found": False}, "metadata_says_gen_app": bool(ours)})

    def check_image(self, path: Path, image_format: str | None = None) -> Report:
        image = open_user_image(path, MAX_CHECK_PIXELS, MAX_CHECK_SIDE)
        mark = detect_image(image)
        checks = []
        if mark.found:
            where = "" if mark.scale == 1.0 else f" (in the image enlarged {mark.scale:g}x: it was shrunk)"
            checks.append(
                (
                    "Invisible watermark",
                    f"found{where}: correlation {mark.z:.1f} standard deviations, {p_text(mark.p_value)} "
                    f"(nominal: the chance of so strong a match by luck; no unmarked test image passed "
                    f"{Z_IMAGE:g}). "
                    + (
                        f"It says: made by the {mark.tab} tab, id {mark.mark_id}."
                        if mark.tab
                        else "Its payload (which tab, which id) is too faint to read."
                    ),
                )
            )
        else:
            checks.append(
                (
                    "Invisible watermark",
                    f"not found (strongest match {mark.z:.1f} standard deviations, {p_text(mark.p_value)}).",
                )
            )
        mime = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}.get(image_format or "")
        checks.append(("Content credentials (C2PA)", credentials_summary(path, mime)))
        checks.append(("Metadata", png_text_summary(image)))
        checks.append(("Key", key_note()))
        verdict = (
            "This image carries gen_app's watermark: it was made by this app."
            if mark.found
            else "No gen_app watermark was found in this image."
        )
        details = {"watermark": {"found": mark.found, "z": mark.z, "p_value": mark.p_value, "tab": mark.tab}}
        details["watermark"]["id"] = mark.mark_id
        return Report("image", verdict, checks, details)

    def check_audio(self, path: Path, info) -> Report:
        if info.frames <= 0 or info.samplerate <= 0:
            raise InvalidInput("The audio file holds no sound.")
        if info.frames / info.samplerate > MAX_CHECK_SECONDS:
            raise InvalidInput(
                f"The audio is {info.frames / info.samplerate / 60:.0f} minutes long; the limit is "
                f"{MAX_CHECK_SECONDS // 60} minutes. Cut an excerpt (a few seconds are enough)."
            )
        try:
            audio, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError):
            raise InvalidInput("The audio file could not be read; it may be damaged or incomplete.") from None
        if not np.isfinite(audio).all():
            raise InvalidInput("The audio file holds invalid samples (not numbers).")
        mark = detect_audio(audio, rate)
        if mark.seconds < 1.0:
            finding = f"not checked: the sound is {mark.seconds:.2f} s long; at least 1 s is needed."
        elif mark.found:
            finding = (
                f"found: correlation {mark.z:.1f} standard deviations, {p_text(mark.p_value)} (nominal: the chance "
                "of so strong a match by luck)."
            )
        else:
            finding = f"not found (strongest match {mark.z:.1f} standard deviations, {p_text(mark.p_value)})."
        mime = "audio/wav" if info.format == "WAV" else None
        checks = [
            ("Invisible watermark", finding),
            ("Content credentials (C2PA)", credentials_summary(path, mime)),
            ("Metadata", wav_text_summary(path)),
            ("Key", key_note()),
        ]
        verdict = (
            "This sound carries gen_app's watermark: it was made by this app."
            if mark.found
            else "No gen_app watermark was found in this sound."
        )
        details = {"watermark": {"found": mark.found, "z": mark.z, "p_value": mark.p_value, "seconds": mark.seconds}}
        return Report("audio", verdict, checks, details)

    def check_text_file(self, path: Path) -> Report:
        data = path.read_bytes()[: MAX_TEXT_FILE_BYTES + 1]
        if not data.strip():
            raise InvalidInput("The file is empty.")
        if len(data) > MAX_TEXT_FILE_BYTES or b"\0" in data:
            raise InvalidInput(
                f"That file is not an image, sound or text file this tab can check (images: {IMAGE_TYPES}; "
                f"sound: {AUDIO_TYPES}; MIDI; or text up to {MAX_TEXT_FILE_BYTES // 1000:,} kB)."
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(
                f"That file is not an image, sound or text file this tab can check (images: {IMAGE_TYPES}; "
                f"sound: {AUDIO_TYPES}; text must be UTF-8)."
            ) from None
        return self.check_text(text)

    def check_text(self, text: str | None) -> Report:
        if text is None or not str(text).strip():
            raise InvalidInput("Please paste some text (or drop a file) first.")
        text = check_text("The text", text)
        if len(text) > MAX_CHECK_CHARS:
            raise InvalidInput(f"The text is {len(text):,} characters; the limit is {MAX_CHECK_CHARS:,}.")
        if self.tokenizer is None:
            raise InvalidInput(
                f"Text cannot be checked here now: the text model could not be loaded ({self.text_problem})."
            )
        mark = detect_tokens(self.tokenizer.encode(text), self.green_list)
        if mark.scored < MIN_TOKENS:
            finding = (
                f"not checked: the text has {mark.scored} distinct token pairs; at least {MIN_TOKENS} are needed "
                "(a few lines)."
            )
        else:
            share = mark.green / mark.scored
            finding = (
                f"{'found' if mark.found else 'not found'}: {mark.green} of {mark.scored} tokens ({share:.1%}) are on "
                f"the key's green lists, where unmarked text has about {GAMMA:.1%}: z = {mark.z:.1f}, "
                f"{p_text(mark.p_value)}."
            )
        checks = [("Text watermark", finding), ("Key", key_note())]
        verdict = (
            "This text carries gen_app's watermark: its text tab wrote it (or most of it)."
            if mark.found
            else "No gen_app watermark was found in this text."
        )
        details = {"watermark": {"found": mark.found, "z": mark.z, "p_value": mark.p_value, "tokens": mark.scored}}
        return Report("text", verdict, checks, details)


def png_text_summary(image: Image.Image) -> str:
    """What the text chunks that gen_app writes (gen_app/images.py) say, if any."""
    text = getattr(image, "text", None) or {
        k: v for k, v in image.info.items() if isinstance(v, str) and k in ("Software", "parameters")
    }
    if not text:
        return "none that gen_app writes (a re-saved copy or a screenshot loses it; the watermark stays)."
    parts = []
    if text.get("Software"):
        parts.append(f"software {text['Software']!r}")
    if text.get("ai_generated") == "true":
        parts.append("marked AI-generated")
    try:
        params = json.loads(text.get("parameters", ""))
        if isinstance(params, dict) and params.get("model"):
            parts.append(f"model {params['model']!r}")
    except ValueError:
        pass
    return ("PNG text: " + ", ".join(parts) + ". Metadata can be edited by anyone.") if parts else "no gen_app text."


def wav_text_summary(path: Path) -> str:
    try:
        with soundfile.SoundFile(str(path)) as file:
            tags = {k: v for k, v in file.copy_metadata().items() if v}
    except (soundfile.LibsndfileError, RuntimeError):
        tags = {}
    if not tags:
        return "none that gen_app writes."
    shown = ", ".join(f"{k} {v[:80]!r}" for k, v in tags.items() if k in ("title", "software", "comment"))
    return f"file tags: {shown}. Metadata can be edited by anyone." if shown else "none that gen_app writes."
