"""Audio pipeline: compose a tune (melody model, ABC text), read ABC or MIDI, and play notes or a recorded clip
with the neural synthesiser. Usable without Gradio:

from gen_app.audio.pipeline import AudioPipeline, Voice
pipe = AudioPipeline.load()
abc = pipe.compose(seed=1)                        # a new tune as ABC text
played = pipe.play_abc(abc, tempo=120, voice=Voice("flute"))
played.audio                                      # float32 mono at 16 kHz
"""

from __future__ import annotations

import re
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import librosa
import numpy as np
import soundfile
import torch
from scipy import signal

from gen_app.audio.features import HOP, MIN_DB, SAMPLE_RATE, hz_to_midi, loudness_db, track_pitch
from gen_app.audio.instruments import BY_NAME, Instrument
from gen_app.audio.score import Envelope, Melody, Note, curves, fit_range, read_abc, read_midi
from gen_app.audio.synth import NeuralSynth
from gen_app.device import cpu_threads
from gen_app.limits import InvalidInput, check_float, check_int
from gen_app.loading import CHECKPOINTS, load_model
from gen_app.sampling import LanguageModel, SamplingSettings
from gen_app.seeding import MAX_SEED

METRES = ("2/4", "3/4", "4/4", "6/8", "9/8", "3/8")  # the commonest in the training tunes
KEYS = ("G", "D", "A", "C", "F", "Bb", "E", "Eb", "Em", "Am", "Dm", "Gm")
MAX_TUNE_CHARS = 2_000
HEADER_CHARS = 40  # the model writes its M: and L: lines within this many characters
# What the pipeline accepts, as (lowest, highest); the audio tab's controls offer exactly these.
BARS_RANGE = (4, 64)  # a composed tune's length, at most
TEMPERATURE_RANGE = (0.1, 1.5)  # the composer's
TEMPO_RANGE = (40, 240)  # quarter notes per minute
MORPH_RANGE = (0.0, 1.0)  # 0: the first instrument, 1: the second
ROOM_RANGE = (0.0, 1.0)  # 0: dry, 1: a large hall
OCTAVE_SHIFT_RANGE = (-3, 3)  # for a recorded clip
DEFAULT_TEMPO = 120
DEFAULT_INSTRUMENT = "violin"

MAX_CLIP_SECONDS = 30.0
MIN_CLIP_SECONDS = 0.5
PITCH_HOP = 4 * HOP  # pyin every 16 ms (interpolated to the synthesiser's 4 ms frames): 4x faster than every 4 ms
SILENT_DB = -55.0  # a clip whose loud frames stay below this is silence
UNVOICED_DROP_DB = 30.0  # breaths and consonants are played this much quieter: an instrument has no consonants
VOICED_PROBABILITY = 0.25  # pyin's voiced probability above which a frame is sung (and followed)
MIN_VOICED_SHARE = 0.3  # of the clip's audible frames: below this there is no melody to follow (noise, speech)

PEAK = 0.9  # output level: the loudest sample

BAR_LINE = re.compile(r"[:|\]\[]*\|[:|\]\d]*|::")


@dataclass(frozen=True)
class Voice:
    """What plays, and where: an instrument, optionally morphed towards a second one (morph 0 = first, 1 = second),
    in a room (0 = dry, 1 = a large hall)."""

    instrument: str
    morph_to: str | None = None
    morph: float = 0.0
    room: float = 0.0


@dataclass
class Played:
    audio: np.ndarray  # float32 mono, SAMPLE_RATE
    f0_hz: np.ndarray  # the curves the synthesiser was given, per 4 ms frame
    loudness_db: np.ndarray
    notes: list[Note] | None = None  # as played (after fitting the instrument's range); None for a clip
    notices: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def octaves(shift: int) -> str:
    """'1 octave higher', '2 octaves lower'..."""
    return f"{abs(shift)} octave{'s' if abs(shift) > 1 else ''} {'higher' if shift > 0 else 'lower'}"


def count_bars(abc_body: str) -> int:
    return len(BAR_LINE.findall(abc_body))


def header_prompt(metre: str | None, key: str | None) -> str:
    """The start of a tune in the training format (M:, L:, K: lines), as far as the choices fix it."""
    if metre and metre not in METRES:
        raise InvalidInput(f"Metre must be one of {', '.join(METRES)} (or empty for any), got {metre!r}.")
    if key and key not in KEYS:
        raise InvalidInput(f"Key must be one of {', '.join(KEYS)} (or empty for any), got {key!r}.")
    return f"M:{metre}\n" if metre else "M:"


class AudioPipeline:
    def __init__(
        self,
        synth: NeuralSynth,
        melody: LanguageModel,
        origins: dict[str, str] | None = None,
        synth_folder: Path = CHECKPOINTS / "synth",
    ):
        self.synth = synth
        self.melody = melody
        self.origins = origins or {"synth": "checkpoints/synth", "melody": melody.origin}
        # Where each model's weights were read from, with its model card (README.md).
        self.folders = {"synth": Path(synth_folder), "melody": melody.folder}
        self.device = next(synth.parameters()).device
        self.instruments = [BY_NAME[name] for name in synth.instruments]

    @classmethod
    def load(cls, device: torch.device | None = None) -> AudioPipeline:
        synth, synth_origin, synth_folder = load_model(NeuralSynth, "synth", device)
        melody = LanguageModel.load("melody", device)
        import music21  # noqa: F401 - imported now (about a second) so the first tune plays without the wait

        # librosa's pyin compiles (numba) on its first call in a process, ~2 s even with numba's cache: pay it now,
        # not on the first hum.
        track_pitch(np.zeros(SAMPLE_RATE // 10, np.float32), hop=PITCH_HOP)

        return cls(synth, melody, {"synth": synth_origin, "melody": melody.origin}, synth_folder)

    # ---- composing -------------------------------------------------------------------------------------------

    def compose_stream(
        self,
        seed: int = 0,
        temperature: float = 0.8,
        bars: int = 16,
        metre: str | None = None,
        key: str | None = None,
    ) -> Iterator[str]:
        """Yield the tune (ABC text: M:, L:, K: headers and the notes) as it grows, until the model ends it (a blank
        line) or it has `bars` bar lines. A chosen key is written into the K: line when the model reaches it."""
        settings = SamplingSettings(
            max_new_tokens=MAX_TUNE_CHARS,
            temperature=check_float("Temperature", temperature, *TEMPERATURE_RANGE),
            seed=check_int("Seed", seed, 0, MAX_SEED),
        ).validated()
        bars = check_int("Bars", bars, *BARS_RANGE)
        text = header_prompt(metre or None, key or None)
        if key:  # the model writes what comes before the K: line (metre, note length), then the key is fixed
            grown = ""
            for grown in self.melody.stream(text, replace(settings, max_new_tokens=HEADER_CHARS)):
                if "\nK:" in text + grown:
                    break
            header = (text + grown).split("\nK:")[0]
            if "\nK:" not in text + grown or not re.fullmatch(r"M:[^\n]*\nL:[^\n]*", header):
                header = f"M:{metre or '4/4'}\nL:1/8"  # the model strayed: the commonest header instead
            text = f"{header}\nK:{key}\n"
            yield text
        tune = text
        for grown in self.melody.stream(text, settings):
            tune = text + grown
            if "\n\n" in tune:
                yield tune.split("\n\n")[0] + "\n"
                return
            header = re.search(r"(?m)^K:.*\n", tune)
            if header and count_bars(tune[header.end() :]) >= bars:
                last = list(BAR_LINE.finditer(tune, header.end()))[bars - 1]
                yield tune[: last.end()] + "\n"
                return
            yield tune
        yield tune.rstrip("\n") + "\n"

    def compose(
        self, seed: int = 0, temperature: float = 0.8, bars: int = 16, metre: str | None = None, key: str | None = None
    ) -> str:
        """A whole new tune at once (the last value of `compose_stream`)."""
        return deque(self.compose_stream(seed, temperature, bars, metre, key), maxlen=1)[0]

    # ---- playing -------------------------------------------------------------------------------------------------

    def envelope(self, name: str) -> Envelope:
        """How `name` shapes notes: fitted to its SoundFont preset where the checkpoint has it, else a default at the
        instrument's typical level."""
        fitted = (self.synth.note_envelopes or {}).get(name)
        level = self.synth.typical_loudness_db[self.synth.instruments.index(name)]
        return Envelope(**fitted) if fitted else Envelope(level_db=level)

    def resolve(self, voice: Voice) -> tuple[torch.Tensor, float, Envelope, Instrument]:
        """(instrument weights (1, I), typical loudness in dB, note envelope, the instrument whose range the notes
        follow)."""
        names = self.synth.instruments
        for name in (voice.instrument, voice.morph_to):
            if name and name not in names:
                raise InvalidInput(f"Instrument must be one of {', '.join(names)}, got {name!r}.")
        if not voice.instrument:
            raise InvalidInput(f"Choose an instrument: {', '.join(names)}.")
        morph = check_float("Morph", voice.morph, *MORPH_RANGE) if voice.morph_to else 0.0
        check_float("Room", voice.room, *ROOM_RANGE)
        weights = torch.zeros(1, len(names))
        weights[0, names.index(voice.instrument)] += 1 - morph
        if voice.morph_to:
            weights[0, names.index(voice.morph_to)] += morph
        level = float(weights[0] @ torch.tensor(self.synth.typical_loudness_db))
        envelope = self.envelope(voice.instrument)
        if voice.morph_to:
            envelope = envelope.mixed(self.envelope(voice.morph_to), morph)
        return weights, level, envelope, self.leading_instrument(Voice(voice.instrument, voice.morph_to, morph))

    def leading_instrument(self, voice: Voice) -> Instrument:
        """The instrument with the larger share of a voice (its range and General-MIDI program are used)."""
        return BY_NAME[voice.morph_to if voice.morph_to and voice.morph > 0.5 else voice.instrument]

    def describe(self, voice: Voice) -> str:
        first = BY_NAME[voice.instrument].label
        if not voice.morph_to or voice.morph == 0:
            return first
        return f"{first} → {BY_NAME[voice.morph_to].label} morph at {voice.morph:.0%}"

    @torch.inference_mode()
    def synthesize(
        self, f0_hz: np.ndarray, loudness: np.ndarray, weights: torch.Tensor, room: float = 0.0, seed: int = 0
    ) -> np.ndarray:
        """Audio for per-frame curves, in a room; the noise is seeded, so the same input gives the same audio."""
        generator = torch.Generator().manual_seed(seed)
        # The GRU steps through thousands of frames one at a time: on a CPU one thread is fastest (0.25 s vs 0.4 s
        # for a 15 s tune here), and it never waits at a barrier for a second core that is busy elsewhere (which
        # made a two-thread run 50x slower while another process kept both cores busy).
        with cpu_threads(1, self.device):
            audio = self.synth(
                torch.from_numpy(np.ascontiguousarray(f0_hz, np.float32))[None].to(self.device),
                torch.from_numpy(np.ascontiguousarray(loudness, np.float32))[None].to(self.device),
                weights.to(self.device),
                generator,
            )[0]
        audio = add_room(audio.float().cpu().numpy(), room)
        # Peak-normalised to PEAK (the training renderings are quiet); near-silence is left as it is.
        peak = float(np.abs(audio).max(initial=0.0))
        return audio * (PEAK / peak) if peak > 1e-3 else audio

    def play_notes(self, melody: Melody, voice: Voice) -> Played:
        weights, _, envelope, instrument = self.resolve(voice)
        notes, shift = fit_range(melody.notes, instrument.low, instrument.high)
        notices = list(melody.notices)
        if shift:
            notices.append(f"Played {octaves(shift // 12)} to suit the {instrument.label.lower()}.")
        f0, loud = curves(notes, envelope)
        return Played(self.synthesize(f0, loud, weights, voice.room), f0, loud, notes, notices)

    def play_abc(self, text: str, tempo: float, voice: Voice) -> Played:
        tempo = check_float("Tempo", tempo, *TEMPO_RANGE)
        return self.play_notes(read_abc(text, tempo), voice)

    def play_midi(self, path: str | Path | None, voice: Voice) -> Played:
        if not path:
            raise InvalidInput("Upload a MIDI file (.mid) first.")
        return self.play_notes(read_midi(path), voice)

    # ---- timbre transfer -----------------------------------------------------------------------------------------

    def load_clip(self, path: str | Path | None) -> np.ndarray:
        """A recorded or uploaded clip as mono float32 at SAMPLE_RATE, within the length limits."""
        if not path:
            raise InvalidInput("Record or upload a clip first.")
        try:
            seconds = soundfile.info(str(path)).duration
        except Exception:  # noqa: BLE001 - not a format libsndfile reads; librosa may still (through audioread)
            seconds = None
        if seconds is not None and seconds > MAX_CLIP_SECONDS:
            raise InvalidInput(f"The clip is {seconds:.1f} s long; the limit is {MAX_CLIP_SECONDS:.0f} s. Trim it.")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # librosa warns when it falls back to audioread
                audio, _ = librosa.load(str(path), sr=SAMPLE_RATE, mono=True, duration=MAX_CLIP_SECONDS + 1)
        except librosa.util.exceptions.ParameterError:
            raise InvalidInput("The clip holds invalid samples (NaN or infinity).") from None
        except Exception as error:  # noqa: BLE001 - soundfile and audioread raise many kinds
            raise InvalidInput(f"That file is not audio this app can read ({type(error).__name__}).") from None
        if len(audio) > MAX_CLIP_SECONDS * SAMPLE_RATE:
            raise InvalidInput(f"The clip is longer than {MAX_CLIP_SECONDS:.0f} s. Trim it.")
        if len(audio) < MIN_CLIP_SECONDS * SAMPLE_RATE:
            raise InvalidInput(
                f"The clip is {len(audio) / SAMPLE_RATE:.2f} s long; give at least {MIN_CLIP_SECONDS} s."
            )
        if not np.isfinite(audio).all():
            raise InvalidInput("The clip holds invalid samples (NaN or infinity).")
        return audio.astype(np.float32)

    def follow(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(f0 Hz, voiced or not, loudness dB) per 4 ms frame of a clip, or InvalidInput when the clip holds no
        single melody: silence, noise (no steady pitch) or several notes at once."""
        frames = len(audio) // HOP
        loud = loudness_db(audio)
        audible = loud > max(float(loud.max()) - 35.0, SILENT_DB)
        if float(loud.max()) < SILENT_DB or audible.sum() < 10:
            raise InvalidInput("The clip is silent (or nearly): record closer to the microphone or turn it up.")
        f0, probability = track_pitch(audio, hop=PITCH_HOP)
        # Chords first: pyin is unsure of them too, so the voicing test below would call them noise.
        if several_notes_at_once(audio, f0, probability):
            raise InvalidInput(
                "The clip seems to hold several notes at once (chords or accompaniment). Use one voice or instrument."
            )
        coarse = np.arange(len(f0)) * PITCH_HOP / HOP
        index = np.arange(frames)
        f0 = np.interp(index, coarse, f0)
        voiced = np.interp(index, coarse, probability) > VOICED_PROBABILITY
        if (voiced & audible).sum() < MIN_VOICED_SHARE * audible.sum():
            raise InvalidInput(
                "No clear melody found: the clip sounds like noise or speech. Hum, sing or whistle one note at a time."
            )
        return f0.astype(np.float32), voiced, loud

    def transfer(self, path: str | Path | None, voice: Voice, octave_shift: int | None = None) -> Played:
        """Play a monophonic clip (humming, singing, whistling) with `voice`: its pitch and loudness curves drive the
        synthesiser. octave_shift None moves the clip by whole octaves into the instrument's range."""
        weights, level, _, instrument = self.resolve(voice)
        f0, voiced, loud = self.follow(self.load_clip(path))
        notices = []
        if octave_shift is None:
            median = float(np.median(hz_to_midi(f0[voiced])))
            octave_shift = round(((instrument.low + instrument.high) / 2 - median) / 12)
            if octave_shift:
                notices.append(f"Moved {octaves(octave_shift)} to suit the {instrument.label.lower()}.")
        octave_shift = check_int("Octave shift", octave_shift, *OCTAVE_SHIFT_RANGE)
        f0 = f0 * 2.0**octave_shift
        # Loudness: the clip's sung notes moved to the instrument's usual level (the network knows no other), and
        # unvoiced frames (breaths, consonants) made quieter.
        shifted = loud + (level - float(np.median(loud[voiced & (loud > SILENT_DB)])))
        shifted = np.where(voiced, shifted, shifted - UNVOICED_DROP_DB)
        shifted = np.clip(shifted, MIN_DB, level + 12.0).astype(np.float32)
        f0 = np.clip(f0, 20.0, SAMPLE_RATE / 2 - 1).astype(np.float32)
        return Played(self.synthesize(f0, shifted, weights, voice.room), f0, shifted, None, notices)


def add_room(audio: np.ndarray, room: float) -> np.ndarray:
    """`audio` with reverberation: convolved with a synthetic impulse response (exponentially decaying noise, darker
    as it decays), reverberation time 0.4 s (room 0) to 2.4 s (room 1), mixed in by `room`, and longer by half
    that time (the tail). The synthesiser was trained dry (reverb off), as in DDSP, so the room is added after."""
    if room <= 0:
        return audio
    seconds = 0.4 + 2.0 * room
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    noise = np.random.default_rng(0).normal(size=len(t))
    bright, dark = np.exp(-6.9 * t / (0.5 * seconds)), np.exp(-6.9 * t / seconds)  # -60 dB at 0.5 s / seconds
    response = noise * bright + np.convolve(noise, np.ones(8) / 8, mode="same") * (dark - bright)
    response[: int(0.012 * SAMPLE_RATE)] = 0.0  # 12 ms before the first reflections
    length = len(audio) + len(response) // 2  # the sound rings on after the last note: keep half the tail
    wet = signal.fftconvolve(audio, response)[:length]
    wet *= np.sqrt(np.mean(audio**2) / max(np.mean(wet[: len(audio)] ** 2), 1e-12))
    mixed = 0.8 * room * wet
    mixed[: len(audio)] += (1 - 0.4 * room) * audio
    fade = int(0.1 * SAMPLE_RATE)
    mixed[-fade:] *= np.linspace(1.0, 0.0, fade)
    return mixed.astype(np.float32)


def several_notes_at_once(audio: np.ndarray, f0: np.ndarray, probability: np.ndarray) -> bool:
    """True when the clip looks polyphonic, judged from pyin's f0 and voiced probability every PITCH_HOP samples.
    pyin then finds a low common "fundamental" whose own first two harmonics hold almost none of the energy (the
    real notes are its higher partials), with low confidence. A single voice or instrument keeps a good share in
    its first two harmonics (humming and whistling most of it)."""
    spectrum = np.abs(librosa.stft(audio, n_fft=2048, hop_length=PITCH_HOP)) ** 2
    freqs = librosa.fft_frequencies(sr=SAMPLE_RATE, n_fft=2048)
    shares = []
    for i in np.flatnonzero(probability[: spectrum.shape[1]] > 0.1):
        total = spectrum[:, i].sum()
        if total <= 0:
            continue
        harmonic = np.round(freqs / f0[i])
        near = (harmonic >= 1) & (harmonic <= 2) & (np.abs(freqs - harmonic * f0[i]) < np.maximum(0.03 * f0[i], 12))
        shares.append(spectrum[near, i].sum() / total)
    if not shares:
        return False
    return float(np.median(shares)) < 0.15 and float(np.mean(probability)) < 0.4
