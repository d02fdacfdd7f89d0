"""File inputs that accept only files the server itself received: uploads (and examples), never any other path.

A request names an input file by its path on the server ({"path": ...}). Gradio 6.31 checks that path only when
the request also carries `meta`; without it an image input (even a stock gr.Image) passes any path on, so a raw
HTTP call could make a tab read, and send back, any image on the server, and tell from the error whether a file
exists (audio and file inputs refuse such a request, but with a bare "Error"). Every file input of the app is one
of the components below: they accept a path only if, with symlinks and `..` resolved, it is a regular file inside
Gradio's upload/cache folder (where /upload puts uploads and Gradio copies the tabs' example files), and refuse
everything else with one message, whatever the reason.
"""

from __future__ import annotations

import os
from typing import Any

import gradio as gr
from gradio.data_classes import ListFiles
from gradio.utils import get_upload_folder

REFUSED = "That file could not be used: upload it again."


def upload_folders(*extra: str | os.PathLike | None) -> list[str]:
    """Gradio's upload/cache folder (GRADIO_TEMP_DIR, else <temp>/gradio) and any given ones, symlinks resolved."""
    folders = [get_upload_folder(), *extra]
    return sorted({os.path.realpath(folder) for folder in folders if folder})


def checked_upload(path: Any, *folders: str | os.PathLike | None) -> str:
    """`path`, resolved, if it is a regular file inside the upload folder (or `folders`); else gr.Error(REFUSED).

    The message is the same for a missing file, a directory, a file elsewhere, a symlink out of the folder and a
    value that is not a path at all, so a refusal tells the caller nothing about the server's files.
    """
    if not isinstance(path, str | os.PathLike):
        raise gr.Error(REFUSED)
    text = os.fspath(path)
    if not isinstance(text, str) or not text or "\0" in text:
        raise gr.Error(REFUSED)
    real = os.path.realpath(text)
    inside = any(os.path.commonpath([real, folder]) == folder for folder in upload_folders(*folders))
    if not inside or not os.path.isfile(real):
        raise gr.Error(REFUSED)
    return real


class CheckedUpload:
    """Mixin for a file input component: `screen_payload` checks the raw request value before Gradio touches it
    (called by gen_app.ui.AppBlocks), and `preprocess` checks the path again before the event function sees it."""

    GRADIO_CACHE: str
    accepts_data_urls = False  # an image pasted or captured may arrive inline; Gradio decodes it into its cache

    def screen_payload(self, payload: Any) -> Any:
        """The request's value for this input, with `meta` added to an accepted file; gr.Error(REFUSED) if any
        file in it is not an upload."""
        if payload is None:
            return None
        if isinstance(payload, list):
            return [self._screen_file(item) for item in payload]
        return self._screen_file(payload)

    def _screen_file(self, item: Any) -> dict:
        if not isinstance(item, dict):
            raise gr.Error(REFUSED)
        url = item.get("url")
        if self.accepts_data_urls and item.get("path") is None and isinstance(url, str) and url.startswith("data:"):
            return {key: value for key, value in item.items() if key != "meta"}  # Gradio moves only files with meta
        checked_upload(item.get("path"), self.GRADIO_CACHE)
        return {**item, "meta": {"_type": "gradio.FileData"}}


class ImageUpload(CheckedUpload, gr.Image):
    """A gr.Image input that hands the uploaded file to the pipeline untouched (a path; build it with
    type="filepath", image_mode=None), and only an uploaded one.

    Plain gr.Image opens the upload with PIL before the event function runs, so a damaged or non-image file
    fails inside Gradio with an internal error. Here the pipeline opens it and explains what is wrong, and
    the file keeps its mode, bit depth and EXIF orientation for the pipeline to honour.
    """

    accepts_data_urls = True

    def get_block_name(self) -> str:
        return "image"  # rendered by the frontend as a normal image component

    def preprocess(self, payload):
        if payload is None:
            return None
        if payload.path is None and str(payload.url or "").startswith("data:"):
            return checked_upload(super().preprocess(payload), self.GRADIO_CACHE)  # decoded into the cache
        return checked_upload(payload.path, self.GRADIO_CACHE)

    def get_config(self):
        # The same component name as gr.Image, so the page treats it as one.
        return {**super().get_config(), "name": "image"}


class AudioUpload(CheckedUpload, gr.Audio):
    """A gr.Audio input (recorded or uploaded) that accepts only an uploaded file."""

    def get_block_name(self) -> str:
        return "audio"

    def preprocess(self, payload):
        if payload is not None:
            checked_upload(payload.path, self.GRADIO_CACHE)
        return super().preprocess(payload)

    def get_config(self):
        return {**super().get_config(), "name": "audio"}


class FileUpload(CheckedUpload, gr.File):
    """A gr.File input that accepts only uploaded files."""

    def get_block_name(self) -> str:
        return "file"

    def preprocess(self, payload):
        files = payload.root if isinstance(payload, ListFiles) else [payload] if payload is not None else []
        for file in files:
            checked_upload(file.path, self.GRADIO_CACHE)
        return super().preprocess(payload)

    def get_config(self):
        return {**super().get_config(), "name": "file"}
