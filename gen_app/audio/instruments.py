"""The instruments the synthesiser learnt: General-MIDI program (the SoundFont preset it imitates) and range."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Instrument:
    name: str
    program: int  # General MIDI, 0-based
    low: int  # comfortable MIDI range
    high: int

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()


INSTRUMENTS = (
    Instrument("violin", 40, 55, 91),
    Instrument("cello", 42, 36, 72),
    Instrument("trumpet", 56, 55, 82),
    Instrument("alto_sax", 65, 49, 80),
    Instrument("clarinet", 71, 50, 86),
    Instrument("flute", 73, 60, 96),
)
BY_NAME = {instrument.name: instrument for instrument in INSTRUMENTS}
