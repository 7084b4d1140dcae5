"""Phrases: ``resynth --split`` (each note its own preset, pitch and length) against one held note.

Cases it builds itself: melodies of General MIDI instruments from fluidsynth (notes apart and legato,
a repeated note) and an espeak-ng phrase. For each, with each model at its synth's default budget:
notes found against notes played (and how many of their pitches are right), spectral convergence
and log-mel MSE of the output against the input (both level-matched, over the model's render
length), and seconds per phrase in a warm process. Expected: every note found at its pitch, and lower distances than
one held note.

Usage: python -m benchmarks.phrase [--model M ...]
"""

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import report
from benchmarks.gm_notes import midi_note_file
from benchmarks.quality import _fluidsynth

RESULTS = Path(__file__).resolve().parent / "results"
#: name -> (GM program, MIDI pitches, seconds each note sounds, seconds from one note to the next)
MELODIES = {
    "flute C5 E5 G5 C6, apart": (73, (72, 76, 79, 84), 0.4, 0.5),
    "piano C4 C4 E4 C4, apart": (0, (60, 60, 64, 60), 0.3, 0.4),
    "violin G3 D4 B3 G4, legato": (40, (55, 62, 59, 67), 0.6, 0.6),
    "trumpet F4 A4 C5, legato": (56, (65, 69, 72), 0.5, 0.5),
}
SPEECH = ("hello there, how are you", 60)


def melody(out: Path, program: int, pitches: tuple[int, ...], sounding_s: float, step_s: float) -> Path:
    """Render each note with fluidsynth and lay them ``step_s`` apart, each cut after ``sounding_s`` (10 ms fade)."""
    import soundfile as sf

    rate, parts = 22050, []
    for k, pitch in enumerate(pitches):
        note = out.with_name(f"{out.stem}_{k}.wav")
        _fluidsynth(midi_note_file(program, pitch, held_s=sounding_s), note)
        audio = sf.read(note, dtype="float32", always_2d=True)[0].mean(axis=1)[: round(step_s * rate)]
        fade = min(round(0.01 * rate), len(audio))
        audio[len(audio) - fade :] *= np.linspace(1, 0, fade, dtype=np.float32)
        parts.append(np.pad(audio, (0, round(step_s * rate) - len(audio))))
        note.unlink()
    sf.write(out, np.concatenate(parts), rate)
    return out


def cases(folder: Path) -> dict[str, tuple[Path, tuple[int, ...] | None]]:
    """The phrases written into ``folder``: name -> (file, the MIDI pitches played, or None for speech)."""
    made = {}
    for k, (name, (program, pitches, sounding_s, step_s)) in enumerate(MELODIES.items()):
        made[name] = (melody(folder / f"melody{k}.wav", program, pitches, sounding_s, step_s), pitches)
    speech = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-p", str(SPEECH[1]), "-s", "120", "-w", str(speech), SPEECH[0]], check=True, capture_output=True)
    made[f'espeak "{SPEECH[0]}"'] = (speech, None)
    return made


def distances(model, target: np.ndarray, output: np.ndarray) -> tuple[float, float]:
    """Level-matched SC and log-mel MSE of ``output`` against ``target``, both cut or padded to the model's render length."""
    from synthgen.features import log_mel
    from synthgen.uses.metrics import audio_metrics

    config = model.config
    n = round(config.render.render_duration_s * config.render.sample_rate)
    a, b = (np.pad(x[:n], (0, max(0, n - len(x))))[None] for x in (target, output))
    mel_a, mel_b = (log_mel(x, config.render.sample_rate, config.features) for x in (a, b))
    metrics = audio_metrics(a, b, mel_a, mel_b, config.features)
    return float(metrics["spectral_convergence_level_matched"][0]), float(metrics["log_mel_mse_level_matched"][0])


def _pitches_right(found: list[int], played: tuple[int, ...] | None) -> int | str:
    """How many notes were found at the pitch played, in order (0 where the notes found are not the notes played)."""
    if played is None:
        return ""
    return sum(a == b for a, b in zip(found, played, strict=True)) if len(found) == len(played) else 0


def main() -> None:
    from synthgen.audio_io import read_audio
    from synthgen.model import DEFAULT_MODEL, load_model
    from synthgen.synths.loading import load_synth
    from synthgen.uses.phrase import resynthesize_phrase
    from synthgen.uses.resynth import resynthesize

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", type=Path, help=f"Models to run (repeatable; default: {DEFAULT_MODEL}).")
    parser.add_argument("--out", type=Path, default=RESULTS / "phrase.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        phrases = cases(Path(tmp))
        for path in args.model or [DEFAULT_MODEL]:
            model = load_model(path)
            synth = load_synth(model.config)
            resynthesize_phrase(model, next(iter(phrases.values()))[0], synth=synth)  # warm: the synth's copies, the index
            for name, (file, pitches) in phrases.items():
                target = read_audio(file, model.config.render.sample_rate, None).whole
                start = time.perf_counter()
                whole = resynthesize(model, file, synth=synth)
                one_s = time.perf_counter() - start
                start = time.perf_counter()
                split = resynthesize_phrase(model, file, synth=synth)
                split_s = time.perf_counter() - start
                found = [note.played.midi_pitch for note in split.notes]
                for method, output, seconds, notes in (
                    ("one held note", whole.output_audio, one_s, [whole.played.midi_pitch]),
                    ("--split", split.output_audio, split_s, found),
                ):
                    sc, mse = distances(model, target, output)
                    rows.append(
                        {
                            "synth": model.config.name,
                            "phrase": name,
                            "method": method,
                            "notes played": "" if pitches is None else len(pitches),
                            "notes found": len(notes),
                            "pitches right": _pitches_right(notes, pitches),
                            "SC_lm": sc,
                            "logmel_lm": mse,
                            "s_per_phrase": seconds,
                        }
                    )
    report("phrase", rows, args.out)


if __name__ == "__main__":
    main()
