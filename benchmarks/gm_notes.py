"""Out-of-domain test sounds: ten General MIDI instrument notes rendered by fluidsynth.

Needs Debian's ``fluidsynth`` and ``fluid-soundfont-gm``. Each note is C4 (MIDI 60, the built-in
synth's note), velocity 110, held 3 s, rendered at 22,050 Hz.

Usage: python -m benchmarks.gm_notes OUT_DIR, then synthgen evaluate --model M --audio-dir OUT_DIR
"""

import argparse
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
PROGRAMS = {
    0: "piano", 19: "organ", 40: "violin", 48: "strings", 56: "trumpet",
    71: "clarinet", 73: "flute", 80: "square_lead", 81: "saw_lead", 88: "pad",
}  # fmt: skip
TICKS_PER_BEAT = 480  # at the default 120 bpm: 960 ticks per second


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.insert(0, (n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out)


def midi_note_file(program: int, midi_pitch: int | Sequence[int] = 60, velocity: int = 110, held_s: float = 3.0, channel: int = 0) -> bytes:
    """A one-track standard MIDI file playing one note, or a chord of several, on one GM program
    (channel 9, from 0: the drum kit, where the pitch picks the drum)."""
    pitches = [midi_pitch] if isinstance(midi_pitch, int) else list(midi_pitch)
    track = bytes([0x00, 0xC0 | channel, program]) + b"".join(bytes([0x00, 0x90 | channel, p, velocity]) for p in pitches)
    for k, p in enumerate(pitches):
        track += (_vlq(round(held_s * 2 * TICKS_PER_BEAT)) if k == 0 else b"\x00") + bytes([0x80 | channel, p, 0])
    track += bytes([0x00, 0xFF, 0x2F, 0x00])
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT) + b"MTrk" + struct.pack(">I", len(track)) + track


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for program, name in PROGRAMS.items():
            midi = Path(tmp) / f"{name}.mid"
            midi.write_bytes(midi_note_file(program))
            cmd = ["fluidsynth", "-ni", "-F", str(args.out / f"{name}.wav"), "-r", "22050", str(SOUNDFONT), str(midi)]
            subprocess.run(cmd, check=True, capture_output=True)
            print(f"wrote {args.out / (name + '.wav')}")


if __name__ == "__main__":
    main()
