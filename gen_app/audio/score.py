"""Melodies as notes: read from ABC text (music21) or MIDI (mido), written back to MIDI, turned into the pitch and
loudness curves the synthesiser plays.

The synthesiser plays one line, so every source is reduced to its top line (`monophonic`): at each moment the
highest sounding note.
"""

from __future__ import annotations

import io
import math
import re
import sys
import time
import warnings
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from gen_app.audio.features import HOP, MIN_DB, SAMPLE_RATE, midi_to_hz
from gen_app.device import yield_to_quick_work
from gen_app.limits import InvalidInput, check_text

MAX_ABC_CHARS = 3_000  # music21's ABC parser takes quadratic time: ~7 s at this length here; a long reel is ~1,000
MAX_MIDI_BYTES = 2_000_000
MAX_NOTES = 3_000
MAX_SECONDS = 180.0
MIN_REMAINDER = 0.1  # seconds: a shorter tail of a lower note, left once a higher one ends, is dropped
PARSE_SECONDS = 10.0  # music21's ABC parser can loop on malformed text; give up after this long
LEAD_IN_SECONDS = 0.1
TAIL_SECONDS = 0.6  # room for the last note's release

# Re-articulation: every note is released at least MIN_GAP_SECONDS before the next starts, and falls by at least
# REARTICULATION_DB in that gap. The synthesiser hears only loudness, so without the dip repeated notes would merge.
MIN_GAP_SECONDS = 0.03
REARTICULATION_DB = 9.0
DB_PER_VELOCITY = 6.0 / 32  # MIDI velocity 58..122 spans about 12 dB, as in the training data
MEAN_VELOCITY = 90


@dataclass(frozen=True)
class Envelope:
    """How an instrument shapes a note's loudness (dB per frame). The shipped values are fitted to the SoundFont
    the synthesiser learnt (train/synth/fit_envelopes.py, stored in checkpoints/synth/config.json)."""

    level_db: float = -8.0  # a note's level at the mean velocity
    attack_seconds: float = 0.025  # rise from the current level to the note's
    decay_db_per_second: float = 2.0  # while held
    articulation: float = 0.9  # share of its written length a note sounds before its release
    release_db_per_second: float = 300.0

    def mixed(self, other: Envelope, share: float) -> Envelope:
        """Between this envelope (share 0) and `other` (share 1), field by field: for morphs."""
        return Envelope(*((1 - share) * a + share * b for a, b in zip(astuple(self), astuple(other), strict=True)))


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    length: float  # seconds
    pitch: int  # MIDI number
    velocity: int = MEAN_VELOCITY  # 1..127

    @property
    def end(self) -> float:
        return self.start + self.length


@dataclass
class Melody:
    notes: list[Note]
    notices: list[str]


def monophonic(notes: list[Note]) -> tuple[list[Note], bool]:
    """The top line of `notes` (the "skyline": at each moment the highest sounding note), and whether anything had
    to be dropped or cut to get it. A higher note cuts the one sounding; a lower one plays only once that ends."""
    line: list[Note] = []
    changed = False
    for note in sorted(notes, key=lambda n: (n.start, -n.pitch)):
        if line and note.start < line[-1].end - 1e-6:
            changed = True
            current = line[-1]
            if note.pitch > current.pitch and note.start > current.start + 1e-6:
                line[-1] = Note(current.start, note.start - current.start, current.pitch, current.velocity)
            elif note.pitch > current.pitch:
                line.pop()  # a lower note's remainder that this note starts with (or before)
            elif note.end > current.end + MIN_REMAINDER:
                note = Note(current.end, note.end - current.end, note.pitch, note.velocity)  # what is left of it
            else:
                continue
        line.append(note)
    return line, changed


def tune_notes(score) -> list[tuple[float, float, int, float]]:
    """(start, length, MIDI pitch, beat strength) in quarter notes for the top line of a music21 score; tied
    notes merged, grace notes (no length) skipped."""
    notes: list[list] = []
    for element in score.flatten().notesAndRests:
        if element.isRest:
            continue
        pitch = max(p.midi for p in element.pitches)
        start, length = float(element.offset), float(element.quarterLength)
        tie = element.tie.type if element.tie is not None else None
        if tie in ("continue", "stop") and notes and notes[-1][2] == pitch:
            notes[-1][1] = start + length - notes[-1][0]
        elif length > 0:
            strength = float(getattr(element, "beatStrength", 0.5) or 0.5)
            notes.append([start, length, pitch, strength if math.isfinite(strength) else 0.5])  # NaN: no metre
    return [tuple(n) for n in notes]


class _ParseTimeout(Exception):
    pass


def _parse_with_deadline(text: str, seconds: float):
    """music21.converter.parse(text) as ABC, abandoned after `seconds`. A trace function checks the clock on each
    Python call in this thread (signals only work in the main thread, and Gradio runs events in workers)."""
    import music21

    deadline = time.monotonic() + seconds

    def check_clock(frame, event, arg):
        nonlocal deadline
        deadline += yield_to_quick_work()  # parsing is long work: quick requests go first (gen_app.device)
        if time.monotonic() > deadline:
            raise _ParseTimeout
        return None  # no per-line tracing: only calls are checked

    previous = sys.gettrace()
    sys.settrace(check_clock)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return music21.converter.parse(text, format="abc")
    finally:
        sys.settrace(previous)


def read_abc(text: str, tempo: float) -> Melody:
    """The notes of an ABC tune (the first one, if there are several) at `tempo` quarter notes per minute."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("The ABC box is empty: write or generate a tune first.")
    check_text("The ABC text", text)
    if len(text) > MAX_ABC_CHARS:
        raise InvalidInput(
            f"The ABC text is {len(text):,} characters; the limit is {MAX_ABC_CHARS:,} "
            "(a long folk tune is about 1,000)."
        )
    body = text.strip()
    if not body.startswith("X:"):
        body = "X:1\n" + body  # the tune header music21 expects; the model writes tunes without it
    try:
        parsed = _parse_with_deadline(body + "\n", PARSE_SECONDS)
    except _ParseTimeout:
        message = "The ABC text could not be read (the parser gave up): check the notes and headers."
        raise InvalidInput(message) from None
    except Exception as error:  # noqa: BLE001 - music21 raises many kinds; all mean "not valid ABC"
        # music21's first sentence says what it missed; the rest lists its internal tokens.
        reason = re.split(r"\. |\.$| tPrev", str(error))[0][:150] or type(error).__name__
        raise InvalidInput(
            f"The ABC text could not be read ({reason}). A tune needs M:, L: and K: header lines, then its notes."
        ) from None
    score = parsed.scores[0] if hasattr(parsed, "scores") and len(parsed.scores) else parsed
    seconds_per_quarter = 60.0 / tempo
    notes = [
        Note(s * seconds_per_quarter, d * seconds_per_quarter, p, round(MEAN_VELOCITY - 10 + 20 * strength))
        for s, d, p, strength in tune_notes(score)
    ]
    notices = []
    if hasattr(parsed, "scores") and len(parsed.scores) > 1:
        notices.append(f"The text holds {len(parsed.scores)} tunes; playing the first.")
    return finish(notes, notices, "ABC tune")


def read_midi(path: str | Path) -> Melody:
    """The top line of a MIDI file (drum channel 10 ignored), at the file's own tempo."""
    import mido

    path = Path(path)
    if path.stat().st_size > MAX_MIDI_BYTES:
        raise InvalidInput(f"The MIDI file is {path.stat().st_size / 1e6:.1f} MB; the limit is 2 MB.")
    try:
        midi = mido.MidiFile(path, clip=True)
        events = list(midi)  # messages with times in seconds, tempo changes applied
    except Exception as error:  # noqa: BLE001 - mido raises OSError, EOFError, ValueError, KeyError...
        reason = str(error)[:120] or type(error).__name__
        raise InvalidInput(f"That file is not a readable MIDI file ({reason}).") from None
    clock, sounding, notes = 0.0, {}, []
    for message in events:
        clock += message.time
        if clock > MAX_SECONDS + 60:
            break
        if message.type not in ("note_on", "note_off") or message.channel == 9:
            continue
        key = (message.channel, message.note)
        if key in sounding:  # a note-off, or a repeated note-on that ends the previous one
            start, velocity = sounding.pop(key)
            if clock > start:
                notes.append(Note(start, clock - start, message.note, velocity))
        if message.type == "note_on" and message.velocity > 0:
            sounding[key] = (clock, message.velocity)
    notes += [Note(start, max(clock - start, 0.1), key[1], v) for key, (start, v) in sounding.items()]
    line, changed = monophonic(notes)
    notices = ["The MIDI file plays several notes at once; the synthesiser plays its top line."] if changed else []
    return finish(line, notices, "MIDI file")


def abc_document(abc: str, title: str, tempo: float) -> str:
    """The tune as a standalone ABC file: an X: number, a T: title and the Q: tempo it was played at, added where
    missing (the model writes only M:, L: and K: headers)."""
    lines = abc.strip().splitlines()
    if not lines or not lines[0].startswith("X:"):
        lines.insert(0, "X:1")
    if not any(line.startswith("T:") for line in lines):
        lines.insert(1, f"T:{title}")
    key_line = next((i for i, line in enumerate(lines) if line.startswith("K:")), len(lines))
    if not any(line.startswith("Q:") for line in lines[:key_line]):
        lines.insert(key_line, f"Q:1/4={round(tempo)}")
    return "\n".join(lines) + "\n"


def finish(notes: list[Note], notices: list[str], what: str) -> Melody:
    """Checks shared by every source: some notes, not too many, not too long (longer ones are cut, with a notice)."""
    if not notes:
        raise InvalidInput(f"The {what} has no notes to play.")
    start = min(n.start for n in notes)
    notes = [Note(n.start - start, n.length, n.pitch, n.velocity) for n in notes]  # no leading silence
    if notes[-1].end > MAX_SECONDS or len(notes) > MAX_NOTES:
        kept = [n for n in notes if n.end <= MAX_SECONDS][:MAX_NOTES]
        if not kept:  # its first note alone outlasts the limit
            raise InvalidInput(
                f"The {what}'s first note lasts {notes[0].length:,.0f} s; the limit is {MAX_SECONDS:.0f} s of music. "
                "Shorten it."
            )
        notices.append(f"The {what} is long: playing its first {kept[-1].end:.0f} s ({len(kept)} notes).")
        notes = kept
    return Melody(notes, notices)


def fit_range(notes: list[Note], low: int, high: int) -> tuple[list[Note], int]:
    """Transpose by whole octaves so the melody's median pitch sits nearest the middle of [low, high]; notes still
    outside are folded in by octaves. Returns the notes and the shift in semitones."""
    median = float(np.median([n.pitch for n in notes]))
    shift = 12 * round(((low + high) / 2 - median) / 12)
    fitted = []
    for n in notes:
        pitch = n.pitch + shift
        while pitch < low:
            pitch += 12
        while pitch > high:
            pitch -= 12
        fitted.append(Note(n.start, n.length, pitch, n.velocity))
    return fitted, shift


def frame_count(seconds: float) -> int:
    return int(np.ceil(seconds * SAMPLE_RATE / HOP))


def pitch_curve(notes: list[tuple[float, float, int]] | list[Note], frames: int) -> np.ndarray:
    """f0 (Hz) per frame from (start, length, pitch) notes in seconds; held through rests (and before the first note,
    its pitch), so the oscillators glide rather than jump to an arbitrary value."""
    midi = np.full(frames, np.nan)
    for note in notes:
        s, d, p = (note.start, note.length, note.pitch) if isinstance(note, Note) else note[:3]
        midi[int(s * SAMPLE_RATE / HOP) : int((s + d) * SAMPLE_RATE / HOP) + 1] = p
    known = ~np.isnan(midi)
    index = np.arange(frames)
    last = np.maximum.accumulate(np.where(known, index, -1))
    held = np.where(last >= 0, midi[np.maximum(last, 0)], midi[known][0])
    return midi_to_hz(held).astype(np.float32)


def loudness_curve(notes: list[Note], frames: int, envelope: Envelope) -> np.ndarray:
    """A loudness curve (dB per frame) for the notes as a player would shape them: an attack up to the note's level
    (by velocity around `envelope.level_db`), a slow decay while held, a release after the articulated length."""
    fps = SAMPLE_RATE / HOP
    curve = np.full(frames, MIN_DB, np.float32)
    attack = max(int(envelope.attack_seconds * fps), 1)
    for index, note in enumerate(notes):
        on = int(note.start * fps)
        sounding = min(note.length * envelope.articulation, note.length - MIN_GAP_SECONDS)
        off = max(int((note.start + sounding) * fps), on + attack)
        if on >= frames:
            break
        rate = envelope.release_db_per_second
        if index + 1 < len(notes):  # fall far enough before the next note to be heard as a new one
            gap = max(notes[index + 1].start - (note.start + sounding), 1 / fps)
            rate = max(rate, REARTICULATION_DB / gap)
        level = envelope.level_db + (note.velocity - MEAN_VELOCITY) * DB_PER_VELOCITY
        body = np.arange(off - on)
        sustain = level - envelope.decay_db_per_second * body / fps
        ramp = curve[on] + (level - curve[on]) * np.minimum((body + 1) / attack, 1.0)
        shaped = np.where(body < attack, ramp, sustain)
        release = shaped[-1] - rate * np.arange(1, frames - off + 1) / fps
        segment = np.concatenate([shaped, np.maximum(release, MIN_DB)])[: frames - on]
        curve[on:] = segment  # later notes overwrite this release from their own onset
    return curve


def curves(melody_notes: list[Note], envelope: Envelope) -> tuple[np.ndarray, np.ndarray]:
    """(f0 Hz, loudness dB) per frame for a melody, with LEAD_IN_SECONDS before and TAIL_SECONDS after it."""
    shifted = [Note(n.start + LEAD_IN_SECONDS, n.length, n.pitch, n.velocity) for n in melody_notes]
    frames = frame_count(shifted[-1].end + TAIL_SECONDS)
    return pitch_curve(shifted, frames), loudness_curve(shifted, frames, envelope)


MIDI_MARK = "AI-generated by gen_app (a neural instrument's notes)"


def midi_bytes(notes: list[Note], program: int, tempo: float = 120.0) -> bytes:
    """A one-track standard MIDI file of the notes for a General-MIDI program (0-based), as bytes."""
    import mido

    ticks_per_beat = 480
    ticks_per_second = ticks_per_beat * tempo / 60
    events = []
    for n in notes:
        events.append((round(n.start * ticks_per_second), 1, n.pitch, n.velocity))
        events.append((round(n.end * ticks_per_second), 0, n.pitch, 0))
    events.sort(key=lambda e: (e[0], e[1]))  # note-offs before note-ons at the same tick
    track = mido.MidiTrack(
        # MIDI has no room for a watermark that survives (the notes are the music): say it in text, as PNGs do.
        [mido.MetaMessage("text", text=MIDI_MARK, time=0)]
        + [mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0)]
        + [mido.Message("program_change", program=program, time=0)]
    )
    last = 0
    for tick, on, pitch, velocity in events:
        track.append(mido.Message("note_on" if on else "note_off", note=pitch, velocity=velocity, time=tick - last))
        last = tick
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()
