"""The audio-synthesis tab: wires Gradio components to AudioPipeline (compose, play a MIDI file, re-voice a clip)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from gen_app.audio.downloads import compose_settings, voice_settings, write_downloads
from gen_app.audio.pictures import piano_roll
from gen_app.audio.pipeline import (
    BARS_RANGE,
    DEFAULT_INSTRUMENT,
    DEFAULT_TEMPO,
    KEYS,
    MAX_CLIP_SECONDS,
    METRES,
    MIN_CLIP_SECONDS,
    MORPH_RANGE,
    OCTAVE_SHIFT_RANGE,
    ROOM_RANGE,
    TEMPERATURE_RANGE,
    TEMPO_RANGE,
    AudioPipeline,
    Voice,
)
from gen_app.audio.score import MAX_MIDI_BYTES
from gen_app.device import low_priority
from gen_app.gpu import on_gpu
from gen_app.outputs import save_for_display
from gen_app.seeding import MAX_SEED, random_seed
from gen_app.ui import Tab, about_panel, described, model_event, page_only, user_errors
from gen_app.uploads import AudioUpload, FileUpload

EXAMPLES = Path(__file__).resolve().parent / "examples"

INTRO = """Two small networks trained here. A **melody model** (a tiny GPT over ABC music notation, trained on
folk tunes) composes; a **neural instrument** (DDSP: a bank of harmonic oscillators plus filtered noise,
driven by a pitch and a loudness curve) plays, as any of six instruments or a **morph** between two.
**Compose** writes a new tune (edit its ABC and play it again), **MIDI file** plays the top line of a MIDI
file, **Your melody** re-voices a clip of you humming, singing or whistling (one note at a time, up to 30 s).
The picture shows the notes (bars) and the pitch the instrument followed (line)."""

ANY = "(any)"
NONE = "(none)"
OCTAVES = ["auto", *(str(shift) for shift in range(OCTAVE_SHIFT_RANGE[0], OCTAVE_SHIFT_RANGE[1] + 1))]


def build() -> None:
    pipe = AudioPipeline.load()
    instrument_choices = [(i.label, i.name) for i in pipe.instruments]

    def outputs(played, voice: Voice, stem: str, params: dict, abc: str | None = None, title: str = ""):
        """(audio file, picture, summary, downloads) for a performance."""
        for notice in played.notices:
            gr.Warning(notice)
        program = pipe.leading_instrument(voice).program  # the MIDI file's instrument
        files = [str(f) for f in write_downloads(played, stem, params, program, abc, title)]
        summary = f"**{pipe.describe(voice)}**: {played.seconds:.1f} s of audio."
        picture = save_for_display(piano_roll(played.f0_hz, played.loudness_db, played.notes), f"{stem}-notes")
        return files[0], picture, summary, files

    def voice_of(instrument, morph_to, morph, room) -> tuple[Voice, dict]:
        morph_to = None if morph_to in (None, "", NONE) else morph_to
        voice = Voice(instrument, morph_to, morph if morph_to else 0.0, room)
        return voice, voice_settings(voice)

    def span(low: float, high: float) -> str:
        return f"{low:g} to {high:g}"

    limits = {
        "max_seed": MAX_SEED,
        "bars": span(*BARS_RANGE),
        "temperature": span(*TEMPERATURE_RANGE),
        "tempo": span(*TEMPO_RANGE),
        "clip": f"{MIN_CLIP_SECONDS:g} to {MAX_CLIP_SECONDS:g}",
        "octaves": "{} to {}".format(*OCTAVE_SHIFT_RANGE),
        "midi_mb": f"{MAX_MIDI_BYTES / 1e6:g}",
        # The voice's four parameters, one "name: description" line each (Gradio strips the indentation).
        "voice": f'one of the listed instruments.\nmorph_to: a second instrument to morph towards, or "{NONE}".\n'
        f"morph: {span(*MORPH_RANGE)}; 0 is the first instrument, 1 the second.\n"
        f"room: {span(*ROOM_RANGE)}; 0 is dry, 1 a large hall.",
    }
    returns = """Returns:
            the audio: a WAV file (URL), 16 kHz mono, with its settings in its comment.
            a picture of the notes and the pitch followed (PNG).
            a one-line summary.
            the downloads: the WAV, and for notes a MIDI file (and an ABC file for a composed tune)."""

    @described(**limits)
    @on_gpu
    @low_priority
    @user_errors
    def compose(seed, temperature, bars, metre, key, tempo, instrument, morph_to, morph, room):
        """Compose a new folk tune (a small GPT writing ABC notation) and play it with a neural instrument.

        Args:
            seed: 0 to {max_seed}; the same seed and settings give the same tune.
            temperature: {temperature}; higher is bolder.
            bars: the tune's length at most, {bars} bars.
            metre: one of the listed metres, or "(any)".
            key: one of the listed keys, or "(any)".
            tempo: quarter notes per minute, {tempo}.
            instrument: {voice}

        Returns:
            the tune as ABC text (edit it and play it with play_abc).
            the audio: a WAV file (URL), 16 kHz mono, with its settings in its comment.
            a picture of the notes and the pitch followed (PNG).
            a one-line summary.
            the downloads: the WAV, a MIDI file and the tune as an ABC file.
        """
        metre = None if metre in (None, "", ANY) else metre
        key = None if key in (None, "", ANY) else key
        abc = ""
        for abc in pipe.compose_stream(seed, temperature, bars, metre, key):
            yield abc, None, None, "Composing…", None
        voice, _ = voice_of(instrument, morph_to, morph, room)
        played = pipe.play_abc(abc, tempo, voice)
        params = compose_settings(voice, seed, temperature, bars, metre, key, tempo)
        yield abc, *outputs(played, voice, "tune", params, abc, f"gen_app tune, seed {seed}")

    @described(**limits, returns=returns)
    @on_gpu
    @low_priority
    @user_errors
    def play_abc(abc, tempo, instrument, morph_to, morph, room):
        """Play a tune written in ABC notation (e.g. one from compose, edited) with a neural instrument.

        Args:
            abc: the tune (M:, L:, K: lines, then the notes).
            tempo: quarter notes per minute, {tempo}.
            instrument: {voice}

        {returns}
        """
        voice, params = voice_of(instrument, morph_to, morph, room)
        played = pipe.play_abc(abc, tempo, voice)
        return outputs(played, voice, "tune", params | {"tempo": tempo}, abc)

    @described(**limits, returns=returns)
    @on_gpu
    @low_priority
    @user_errors
    def play_midi(path, instrument, morph_to, morph, room):
        """Play the top line of a MIDI file with a neural instrument.

        Args:
            path: a MIDI file (.mid, up to {midi_mb} MB), {file}.
            instrument: {voice}

        {returns}
        """
        voice, params = voice_of(instrument, morph_to, morph, room)
        played = pipe.play_midi(path, voice)
        return outputs(played, voice, "midi", params | {"source": Path(path).name})

    @described(**limits, returns=returns)
    @on_gpu
    @low_priority
    @user_errors
    def revoice(path, octave, instrument, morph_to, morph, room):
        """Re-voice a recording of one melody (humming, singing, whistling: one note at a time) as an instrument.

        Args:
            path: the recording (WAV, MP3, OGG, FLAC...), {clip} seconds, {file}.
            octave: "auto" (into the instrument's range) or a shift in octaves, {octaves}.
            instrument: {voice}

        {returns}
        """
        voice, params = voice_of(instrument, morph_to, morph, room)
        shift = None if octave in (None, "", "auto") else int(octave)
        played = pipe.transfer(path, voice, shift)
        return outputs(played, voice, "revoiced", params | {"octave_shift": octave})

    gr.Markdown(INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            instrument = gr.Dropdown(instrument_choices, value=DEFAULT_INSTRUMENT, label="Instrument")
            with gr.Row():
                morph_to = gr.Dropdown([NONE, *instrument_choices], value=NONE, label="Morph towards", min_width=120)
                morph = gr.Slider(*MORPH_RANGE, value=0.5, step=0.05, label="Morph", info="0 = first, 1 = second")
            room = gr.Slider(*ROOM_RANGE, value=0.3, step=0.05, label="Room", info="0 = dry, 1 = a large hall")
            with gr.Tabs(overflow_behavior="wrap"):
                with gr.Tab("Compose", id="audio-compose"):
                    with gr.Row():
                        seed = gr.Number(label="Seed", value=2, precision=0, min_width=110)
                        lucky = gr.Button("Random seed", min_width=110)
                    with gr.Row():
                        metre = gr.Dropdown([ANY, *METRES], value=ANY, label="Metre", min_width=110)
                        key = gr.Dropdown([ANY, *KEYS], value=ANY, label="Key", min_width=110)
                    bars = gr.Slider(*BARS_RANGE, value=16, step=1, label="Bars (at most)")
                    temperature = gr.Slider(
                        *TEMPERATURE_RANGE, value=0.8, step=0.05, label="Temperature", info="higher: bolder"
                    )
                    tempo = gr.Slider(
                        *TEMPO_RANGE, value=DEFAULT_TEMPO, step=5, label="Tempo (quarter notes per minute)"
                    )
                    compose_button = gr.Button("Compose and play", variant="primary")
                    abc = gr.Textbox(
                        label="Tune (ABC notation: edit it and press Play)",
                        lines=8,
                        max_lines=20,
                        buttons=["copy"],
                        placeholder="M:6/8\nL:1/8\nK:D\nA | d2d fed | ...",
                    )
                    play_abc_button = gr.Button("Play ABC")
                with gr.Tab("MIDI file", id="audio-midi"):
                    midi_file = FileUpload(label="MIDI file (.mid, up to 2 MB)", file_types=[".mid", ".midi"])
                    play_midi_button = gr.Button("Play MIDI", variant="primary")
                    gr.Examples(
                        [[str(p)] for p in sorted(EXAMPLES.glob("*.mid"))], inputs=[midi_file], label="Examples"
                    )
                with gr.Tab("Your melody", id="audio-transfer"):
                    clip = AudioUpload(
                        label=f"Hum, sing or whistle (one note at a time, up to {MAX_CLIP_SECONDS:.0f} s)",
                        sources=["microphone", "upload"],
                        type="filepath",
                    )
                    octave = gr.Dropdown(
                        OCTAVES,
                        value="auto",
                        label="Octave shift",
                        info="auto: move into the instrument's range",
                    )
                    transfer_button = gr.Button("Re-voice", variant="primary")
                    clip_examples = [[str(p)] for p in sorted(EXAMPLES.glob("*.wav"))]
                    gr.Examples(
                        clip_examples, inputs=[clip], label="Examples (synthetic hum and whistle; record your own!)"
                    )
        with gr.Column(scale=2, min_width=300):
            audio = gr.Audio(label="Audio", type="filepath", interactive=False, buttons=["download"], autoplay=True)
            picture = gr.Image(label="Notes and pitch followed", type="filepath", interactive=False)
            summary = gr.Markdown()
            downloads = gr.File(label="Downloads (WAV with its settings, MIDI, ABC)", file_count="multiple")
    about_panel([pipe.folders["synth"], pipe.folders["melody"]], [pipe.origins["synth"], pipe.origins["melody"]])

    voice_inputs = [instrument, morph_to, morph, room]
    results = [audio, picture, summary, downloads]
    compose_inputs = [seed, temperature, bars, metre, key, tempo, *voice_inputs]
    compose_button.click(compose, compose_inputs, [abc, *results], api_name="compose", **model_event("audio"))
    play_abc_button.click(play_abc, [abc, tempo, *voice_inputs], results, api_name="play_abc", **model_event("audio"))
    play_midi_button.click(play_midi, [midi_file, *voice_inputs], results, api_name="play_midi", **model_event("audio"))
    transfer_button.click(revoice, [clip, octave, *voice_inputs], results, api_name="revoice", **model_event("audio"))
    lucky.click(page_only(lambda: random_seed()), None, seed, api_name="audio_random_seed", queue=False)


TAB = Tab(id="audio", title="Audio synthesis", build=build)
