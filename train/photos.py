"""Photos from Debian packages, the raw material of the super-resolution and style data sets (train/sr/data.py,
train/style/data.py), and the reader of GCompris's Qt resource files they come in (also used by
train/style/paintings.py). The validation photos (scikit-image and scikit-learn wheels) are never among them.

- Wallpapers: every distinct JPEG photo of MIN_SIDE px or more in /usr/share/backgrounds and /usr/share/wallpapers
  (``lomiri-wallpapers-16.04``, ``lomiri-wallpapers-20.04``, ``mate-backgrounds``, ``plasma-workspace-wallpapers``;
  CC-BY-4.0 / CC-BY-SA / CC0 / GPL-2+ per file, see /usr/share/doc/<package>/copyright).
- GCompris (``gcompris-qt-data``): the WebP photos of 1000 px or more inside the explore_monuments,
  explore_world_animals, explore_farm_animals, explore_world_music and erase activity files (Qt .rcc).

How the .rcc format is parsed (Qt's ``rcc.cpp`` / ``qresource.cpp``)
-------------------------------------------------------------------
All integers are big-endian. Header: ``b"qres"``, u32 format version (1-3), u32 tree offset, u32 data offset,
u32 names offset, and from version 3 on a u32 of overall flags. The tree is an array of fixed-size entries,
14 bytes in version 1 and 22 bytes from version 2 (an extra u64 last-modified time in ms), entry 0 being the
root directory:

    u32 name offset, u16 flags (1 = zlib-compressed, 2 = directory, 4 = zstd-compressed), then
    directory: u32 child count, u32 index of the first child (children are contiguous entries),
    file:      u16 territory, u16 language, u32 offset of the file's data (relative to the data offset).

A name (at names offset + name offset) is a u16 length in UTF-16 code units, a u32 hash, then the UTF-16BE text.
A file's data is a u32 byte count then the bytes; zlib-compressed data is in ``qCompress`` form (a u32
uncompressed length, then a zlib stream). Zstd data is only readable on Python >= 3.14 (``compression.zstd``);
this package's files (format version 3) use zlib only. Walking the tree from the root gives ``{path: bytes}``.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

from PIL import Image

PHOTO_FOLDERS = (Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers"))
MIN_SIDE = 1000
GCOMPRIS_RCC = Path("/usr/share/gcompris-qt/rcc")
GCOMPRIS_PHOTO_SETS = (
    "explore_monuments", "explore_world_animals", "explore_farm_animals", "explore_world_music", "erase"
)  # fmt: skip
FLAG_COMPRESSED, FLAG_DIRECTORY, FLAG_COMPRESSED_ZSTD = 1, 2, 4


def photo_paths(folders: tuple[Path, ...] = PHOTO_FOLDERS) -> list[Path]:
    """Every distinct JPEG of at least MIN_SIDE px a side under `folders`, sorted by path."""
    suffixes = {".jpg", ".jpeg"}
    folders = [folder for folder in folders if folder.exists()]
    paths = [p for folder in folders for p in folder.rglob("*") if p.suffix.lower() in suffixes]
    keep, seen = [], set()
    for path in sorted(paths):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()  # the KDE packages link one photo many times
        with Image.open(path) as image:
            if min(image.size) >= MIN_SIDE and digest not in seen:
                seen.add(digest)
                keep.append(path)
    return keep


def gcompris_photos() -> list[tuple[str, Image.Image]]:
    """(resource name, RGB image) for every photo of 1000 px or more in the GCompris photo activities."""
    photos = []
    for name in GCOMPRIS_PHOTO_SETS:
        path = GCOMPRIS_RCC / f"{name}.rcc"
        if not path.exists():
            continue
        for resource, data in sorted(read_rcc(path).items()):
            if resource.lower().endswith(".webp"):
                image = Image.open(io.BytesIO(data))
                if max(image.size) >= 1000:
                    photos.append((f"{path.name}:{resource}", image.convert("RGB")))
    return photos


def read_rcc(path: Path) -> dict[str, bytes]:
    """Return ``{resource path: uncompressed bytes}`` for every file in a Qt .rcc resource file."""
    blob = path.read_bytes()
    magic, version, tree_off, data_off, names_off = struct.unpack_from(">4sIIII", blob, 0)
    if magic != b"qres":
        raise ValueError(f"{path}: not a Qt resource file (magic {magic!r})")
    if not 1 <= version <= 3:
        raise ValueError(f"{path}: unsupported rcc format version {version}")
    entry_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        length, _hash = struct.unpack_from(">HI", blob, names_off + offset)
        start = names_off + offset + 6
        return blob[start : start + 2 * length].decode("utf-16-be")

    def data_at(offset: int, flags: int) -> bytes:
        (size,) = struct.unpack_from(">I", blob, data_off + offset)
        raw = blob[data_off + offset + 4 : data_off + offset + 4 + size]
        if flags & FLAG_COMPRESSED:
            return zlib.decompress(raw[4:])  # qCompress: u32 uncompressed size, then a zlib stream
        if flags & FLAG_COMPRESSED_ZSTD:
            try:
                from compression import zstd  # type: ignore[import-not-found]  # Python >= 3.14
            except ImportError as err:
                raise RuntimeError(f"{path}: zstd-compressed resources need Python >= 3.14") from err
            return zstd.decompress(raw)
        return raw

    files: dict[str, bytes] = {}

    def walk(index: int, parent: str) -> None:
        base = tree_off + index * entry_size
        name_off, flags = struct.unpack_from(">IH", blob, base)
        path_here = parent + "/" + name_at(name_off) if index else ""
        if flags & FLAG_DIRECTORY:
            count, first = struct.unpack_from(">II", blob, base + 6)
            for child in range(first, first + count):
                walk(child, path_here)
        else:
            _territory, _language, offset = struct.unpack_from(">HHI", blob, base + 6)
            files.setdefault(path_here, data_at(offset, flags))  # first locale wins (all are neutral here)

    walk(0, "")
    return files
