"""A piano-roll picture of what was played: notes as bars (their colour: loudness) and the pitch curve the
synthesiser followed, on a grid with the octaves' C lines labelled and a tick every second."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gen_app.audio.features import HOP, SAMPLE_RATE, hz_to_midi
from gen_app.audio.score import LEAD_IN_SECONDS, Note

WIDTH, HEIGHT = 1200, 360
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 30  # margins for the labels
AUDIBLE_DB = -50.0  # the pitch curve is drawn only where the sound is this loud
NAMES = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")
BACKGROUND, GRID, LABEL, CURVE = (250, 250, 252), (222, 224, 232), (90, 94, 110), (20, 20, 20)


def note_name(midi: int) -> str:
    return f"{NAMES[midi % 12]}{midi // 12 - 1}"


def piano_roll(f0_hz: np.ndarray, loudness_db: np.ndarray, notes: list[Note] | None = None) -> Image.Image:
    """The picture for curves per frame (as given to the synthesiser) and, when known, the notes they came from
    (times without the lead-in)."""
    frame_seconds = HOP / SAMPLE_RATE
    seconds = max(len(f0_hz) * frame_seconds, 0.5)
    audible = loudness_db > AUDIBLE_DB
    pitches = hz_to_midi(f0_hz[audible]) if audible.any() else np.array([60.0])
    if notes:
        pitches = np.concatenate([pitches, [n.pitch for n in notes]])
    low, high = int(np.floor(pitches.min())) - 3, int(np.ceil(pitches.max())) + 3
    high = max(high, low + 12)  # at least an octave tall

    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=16)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(t: float) -> float:
        return LEFT + plot_w * t / seconds

    def y_of(midi: float) -> float:
        return TOP + plot_h * (high - midi) / (high - low)

    for midi in range(low, high + 1):
        if midi % 12 == 0:
            draw.line([(LEFT, y_of(midi)), (WIDTH - RIGHT, y_of(midi))], fill=GRID, width=1)
            draw.text((6, max(y_of(midi) - 9, 0)), note_name(midi), fill=LABEL, font=font)
    step = 1 if seconds <= 20 else 5 if seconds <= 100 else 10
    for t in range(0, int(seconds) + 1, step):
        draw.line([(x_of(t), TOP), (x_of(t), HEIGHT - BOTTOM)], fill=GRID, width=1)
        draw.text((x_of(t) + 3, HEIGHT - BOTTOM + 6), f"{t} s", fill=LABEL, font=font)

    half = plot_h / (high - low) / 2
    for note in notes or []:
        start = note.start + LEAD_IN_SECONDS
        shade = int(np.clip(200 - (note.velocity - 40) * 1.6, 40, 200))  # louder: deeper blue
        box = [x_of(start), y_of(note.pitch) - half, max(x_of(start + note.length) - 1, x_of(start) + 1)]
        draw.rectangle([box[0], box[1], box[2], y_of(note.pitch) + half], fill=(shade, shade + 30, 255))

    # The pitch curve, broken where the sound is inaudible (rests, breaths).
    times = np.arange(len(f0_hz)) * frame_seconds
    midi_curve = hz_to_midi(np.maximum(f0_hz, 1.0))
    segment: list[tuple[float, float]] = []
    for t, m, on in zip(times, midi_curve, audible, strict=True):
        if on and low <= m <= high:
            segment.append((x_of(t), y_of(m)))
            continue
        if len(segment) > 1:
            draw.line(segment, fill=CURVE, width=2)
        segment = []
    if len(segment) > 1:
        draw.line(segment, fill=CURVE, width=2)
    return image
