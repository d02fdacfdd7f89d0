"""The "Check a file" tab: drop an image or a sound, or paste text, and read whether this app made it."""

from __future__ import annotations

import gradio as gr

from gen_app.check.pipeline import AUDIO_TYPES, IMAGE_TYPES, Checker, key_note, signing_note
from gen_app.device import app_priority
from gen_app.ui import Tab, user_errors
from gen_app.uploads import FileUpload


def intro() -> str:
    return f"""Every image, sound and text this app makes carries an **invisible watermark**: a faint pattern in an
image's pixels, a faint noise under the music, a statistical preference for some words in the text. It survives
JPEG, resizing, cropping, MP3 and copy-paste (how well is measured in the README's "Provenance" section). Drop a
file or paste text to check for it. {key_note()} {signing_note()}

Images: {IMAGE_TYPES}; sound: {AUDIO_TYPES}; MIDI (metadata only); text: paste it, or a .txt file.
Marks can be weakened by heavy editing, and an unmarked file may still be AI-generated elsewhere: "not found" is
not proof of a human."""


def build() -> None:
    checker = Checker.load()

    @app_priority
    @user_errors
    def check_file(path):
        """Tell whether this app made a file: its invisible watermark, its C2PA content credentials and its metadata.

        Args:
            path: an image (PNG, JPEG, WebP, GIF...), a sound (WAV, FLAC, OGG, MP3), a MIDI file or a UTF-8 text file.

        Returns:
            the report, in plain words (Markdown).
            the numbers (JSON): whether the watermark was found, its z-score and nominal p-value, its payload.
        """
        report = checker.check_file(path)
        return report.markdown(), report.details

    @app_priority
    @user_errors
    def check_text(text):
        """Tell whether this app's text tab wrote a text: its green-list watermark's z-score and p-value.

        Args:
            text: the text to check (a few lines at least; up to 200,000 characters).

        Returns:
            the report, in plain words (Markdown).
            the numbers (JSON): found, z-score, p-value, the token pairs counted.
        """
        report = checker.check_text(text)
        return report.markdown(), report.details

    gr.Markdown(intro())
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            file = FileUpload(label="Image, sound or text file")
            check_file_button = gr.Button("Check file", variant="primary")
            text = gr.Textbox(label="…or paste text", lines=6, max_lines=20)
            check_text_button = gr.Button("Check text", variant="primary")
        with gr.Column(scale=1, min_width=280):
            report = gr.Markdown(label="Report")
            details = gr.JSON(label="Details (numbers)")
    check_file_button.click(check_file, [file], [report, details], api_name="check_file")
    check_text_button.click(check_text, [text], [report, details], api_name="check_text")


TAB = Tab(id="check", title="Check a file", build=build)
