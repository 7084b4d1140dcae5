"""Resynthesis quality: each model alone and with search, next to nearest-neighbour, mean and random presets
(and, on the rendered and bank sets, their own presets rendered again: the floor the synth's randomness leaves).

Cases it builds itself: a rendered built-in test set (seed 1001, never a training seed); three
held-out human amsynth banks (when an amsynth model is given); General MIDI notes from fluidsynth
at several pitches and programs, held 3 s and, at another pitch, 1 s; espeak-ng voices; other sounds
(more GM families at their own pitches and lengths, a chord, drum hits, sounds sox synthesizes). Metrics: spectral convergence (as played, a
search's preset at the output gain it fitted as ``resynth`` writes it, and level-matched), log-mel
MSE (level-matched), MFCC distance, seconds per sound (wall and CPU: a busy machine inflates the
first; the second leaves out a plugin's render processes).

Targets: default resynth (model + search) beats the nearest neighbour by >= 25 % on log-mel MSE
and on spectral convergence, both level-matched, on every set; SC < 1 on real notes; a search
<= 2 s per sound warm.

Usage: python -m benchmarks.quality [--model M ...] [--amsynth-model M] [--budget N] [--quick]
"""

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import report
from benchmarks.gm_notes import SOUNDFONT, midi_note_file

RESULTS = Path(__file__).resolve().parent / "results"
AMSYNTH_BANKS = Path("/usr/share/amsynth/banks")
#: banks the shipped amsynth model never saw in training (--held-out-banks names others)
HELD_OUT_BANKS = ("BriansBank07.amSynth.bank", "BriansBank15.amSynth.bank", "PatriksBank03.bank")
#: General MIDI programs: piano, bells, organ, guitar, violin, trumpet, flute, saw lead, pad
GM_PROGRAMS = {0: "piano", 14: "bells", 19: "organ", 25: "guitar", 40: "violin", 56: "trumpet", 73: "flute", 81: "saw_lead", 89: "pad"}
GM_PITCHES = (48, 67)
#: short notes: every GM program held this long at this pitch (a length and a pitch no other set has)
SHORT_NOTE_S, SHORT_NOTE_PITCH = 1.0, 55
VOICES = {"voice_ah": ("aaaaaaaaaah", 40), "voice_hello": ("hello there, how are you", 60)}
#: more real sounds, of families, pitches and lengths the GM sets do not have: name -> (GM program, pitch or chord,
#: seconds held, MIDI channel from 0; 9 is the drum kit)
OTHER_GM = {
    "epiano_60": (4, 60, 2.0, 0), "vibraphone_72": (11, 72, 1.5, 0), "marimba_64": (12, 64, 0.5, 0), "nylon_guitar_52": (24, 52, 2.0, 0),
    "finger_bass_36": (33, 36, 1.5, 0), "synth_bass_40": (38, 40, 1.0, 0), "cello_45": (42, 45, 3.0, 0), "choir_60": (52, 60, 3.0, 0),
    "brass_section_58": (61, 58, 2.0, 0), "alto_sax_62": (65, 62, 2.5, 0), "oboe_70": (68, 70, 2.0, 0), "ocarina_76": (79, 76, 1.5, 0),
    "crystal_67": (98, 67, 2.0, 0), "sitar_55": (104, 55, 2.0, 0), "steel_drums_65": (114, 65, 1.0, 0),
    "epiano_chord_c_major": (4, (60, 64, 67), 2.0, 0), "kick_drum": (0, 36, 0.3, 9), "snare_drum": (0, 38, 0.3, 9),
}  # fmt: skip
#: sounds sox synthesizes: name -> (sample rate, channels, what follows "synth")
OTHER_SOX = {
    "sox_pluck_a3": (22050, 1, "2 pluck A3"),
    "sox_two_sines_stereo": (44100, 2, "3 sine 440 sine 660 fade 0 3 1"),
    "sox_noise_burst": (22050, 1, "0.5 whitenoise fade 0 0.5 0.4"),
}
TEST_SEED = 1001
MIN_GAIN_OVER_NN = 0.25
MAX_SEARCH_S = 2.0


def _fluidsynth(midi: bytes, wav: Path) -> None:
    """Render a standard MIDI file's bytes to ``wav`` (22,050 Hz) with fluidsynth and the GM soundfont."""
    path = wav.with_suffix(".mid")
    path.write_bytes(midi)
    subprocess.run(["fluidsynth", "-ni", "-F", str(wav), "-r", "22050", str(SOUNDFONT), str(path)], check=True, capture_output=True)
    path.unlink()


def gm_notes(out: Path, quick: bool, held_s: float = 3.0, pitches: tuple[int, ...] = GM_PITCHES) -> Path:
    """Render GM notes held ``held_s`` with fluidsynth into ``out``: every program at every pitch (quick: 5 programs, 1 pitch)."""
    out.mkdir(parents=True, exist_ok=True)
    programs = dict(list(GM_PROGRAMS.items())[:: 2 if quick else 1])
    for program, name in programs.items():
        for pitch in pitches[:1] if quick else pitches:
            _fluidsynth(midi_note_file(program, pitch, held_s=held_s), out / f"{name}_{pitch}.wav")
    return out


def other_sounds(out: Path, quick: bool) -> Path:
    """Render :data:`OTHER_GM` with fluidsynth and :data:`OTHER_SOX` with sox into ``out`` (quick: every third)."""
    out.mkdir(parents=True, exist_ok=True)
    every = 3 if quick else 1
    for name, (program, pitches, held_s, channel) in list(OTHER_GM.items())[::every]:
        _fluidsynth(midi_note_file(program, pitches, held_s=held_s, channel=channel), out / f"{name}.wav")
    for name, (rate, channels, effect) in list(OTHER_SOX.items())[::every]:
        cmd = ["sox", "-n", "-r", str(rate), "-c", str(channels), str(out / f"{name}.wav"), "synth", *effect.split()]
        subprocess.run(cmd, check=True, capture_output=True)
    return out


def voices(out: Path) -> Path:
    """Speak a few phrases with espeak-ng into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for name, (text, pitch) in VOICES.items():
        subprocess.run(["espeak-ng", "-p", str(pitch), "-s", "120", "-w", str(out / f"{name}.wav"), text], check=True, capture_output=True)
    return out


def rendered_targets(config, synth, n: int):
    """``n`` uniform presets of ``config`` rendered at its note (seed :data:`TEST_SEED`)."""
    from synthgen.features import log_mel
    from synthgen.synths.rendering import render_unit
    from synthgen.uses.evaluate import Targets

    unit = config.space.sample(n, np.random.default_rng(TEST_SEED))
    audio = render_unit(synth, config, unit)
    mel = log_mel(audio, config.render.sample_rate, config.features)
    return Targets(
        f"{config.name} rendered", mel, audio, unit, [f"seed {TEST_SEED} #{k}" for k in range(n)], np.full(n, config.render.midi_pitch)
    )


def bank_targets(config, synth, n_per_bank: int | None, banks: tuple[str, ...] = HELD_OUT_BANKS):
    """Presets of held-out amsynth bank files (in :data:`AMSYNTH_BANKS`), rendered at the config's note."""
    from synthgen.features import log_mel
    from synthgen.presets.human import load_human_presets
    from synthgen.synths.rendering import render_unit
    from synthgen.uses.evaluate import Targets

    presets = [load_human_presets(AMSYNTH_BANKS / bank, config) for bank in banks]
    unit = np.concatenate([p.unit[:n_per_bank] for p in presets])
    names = [f"{p.banks[k]}/{p.names[k]}" for p in presets for k in range(len(p.unit[:n_per_bank]))]
    audio = render_unit(synth, config, unit)
    mel = log_mel(audio, config.render.sample_rate, config.features)
    return Targets("amsynth held-out banks", mel, audio, unit, names, np.full(len(unit), config.render.midi_pitch))


def score(models: list, targets, synth, budget: int, seed: int, train_data: Path | None, store=None) -> tuple[list[dict], list[str]]:
    """Rows of the table for one set: every method's mean metrics (searches kept in ``store`` as they finish)."""
    from synthgen.uses.evaluate import evaluate

    result = evaluate(models, targets, synth, train_data, seed=seed, progress=False, budget=budget, store=store)
    rows = []
    for method, values in result.summary().items():
        row = {"set": targets.name.rsplit("/", 1)[-1], "method": method, "n": len(targets.mel)}
        for metric, column in (
            ("spectral_convergence", "SC"),
            ("spectral_convergence_level_matched", "SC_lm"),
            ("log_mel_mse", "logmel"),
            ("log_mel_mse_level_matched", "logmel_lm"),
            ("mfcc_distance_level_matched", "mfcc_lm"),
            ("seconds_per_sound", "s_per_sound"),
            ("cpu_seconds_per_sound", "cpu_s_per_sound"),
        ):
            row[column] = values[metric]["mean"] if metric in values else float("nan")
        rows.append(row)
    return rows, result.notes


def verdicts(rows: list[dict], real_sets: set[str]) -> list[str]:
    """Each target, checked on each synth's set, in one line."""
    lines = []
    for synth, set_name in dict.fromkeys((r["synth"], r["set"]) for r in rows):
        name = set_name if set_name.startswith(synth) else f"{synth} {set_name}"
        by_method = {r["method"]: r for r in rows if (r["synth"], r["set"]) == (synth, set_name)}
        nn = by_method.get("nearest neighbour")
        for method, row in by_method.items():
            if " + search (" not in method:
                continue
            if nn is not None:
                gains = {m: 1 - row[m] / nn[m] for m in ("logmel_lm", "SC_lm")}
                ok = all(g >= MIN_GAIN_OVER_NN for g in gains.values())
                lines.append(
                    f"{name}: {method} vs NN: log-mel MSE {gains['logmel_lm']:.0%} lower, SC {gains['SC_lm']:.0%} lower "
                    f"(target >= {MIN_GAIN_OVER_NN:.0%} lower): {'met' if ok else 'NOT met'}"
                )
            if set_name in real_sets:
                lines.append(f"{name}: {method} SC {row['SC']:.3f} as played (target < 1): {'met' if row['SC'] < 1 else 'NOT met'}")
            verdict = "met" if row["s_per_sound"] <= MAX_SEARCH_S else "NOT met"
            lines.append(
                f"{name}: {method} {row['s_per_sound']:.2f} s per sound, {row['cpu_s_per_sound']:.2f} s of CPU "
                f"(target <= {MAX_SEARCH_S:g} s wall on an idle machine): {verdict}"
            )
    return lines + model_alone_verdicts(rows, real_sets)


def model_alone_verdicts(rows: list[dict], real_sets: set[str]) -> list[str]:
    """On rendered and held-out-bank sets: does each vae_flow_post model alone beat the nearest
    neighbour, and every MLP and CNN model alone, on level-matched log-mel MSE and SC?"""
    lines = []
    for synth, set_name in dict.fromkeys((r["synth"], r["set"]) for r in rows if r["set"] not in real_sets):
        name = set_name if set_name.startswith(synth) else f"{synth} {set_name}"
        alone = {r["method"]: r for r in rows if (r["synth"], r["set"]) == (synth, set_name) and " + search (" not in r["method"]}
        others = [m for m in alone if m == "nearest neighbour" or m.startswith(("mlp", "cnn"))]
        for method, row in alone.items():
            if not method.startswith("vae_flow_post"):
                continue
            for other in others:
                ok = all(row[m] < alone[other][m] for m in ("logmel_lm", "SC_lm"))
                lines.append(
                    f"{name}: {method} alone {row['logmel_lm']:.3g} / {row['SC_lm']:.3f} vs {other} "
                    f"{alone[other]['logmel_lm']:.3g} / {alone[other]['SC_lm']:.3f} (log-mel MSE / SC, target: lower on both): "
                    f"{'met' if ok else 'NOT met'}"
                )
    return lines


def main() -> None:
    from synthgen.model import DEFAULT_MODEL, load_model
    from synthgen.synths.loading import load_synth
    from synthgen.uses.evaluate import targets_from_audio_dir
    from synthgen.uses.search_store import SearchStore

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", help="A built-in synth model (repeat; default: the shipped one).")
    parser.add_argument(
        "--amsynth-model", type=Path, action="append", default=[], help="An amsynth model (repeat); its sets are skipped without."
    )
    parser.add_argument(
        "--train-data", type=Path, help="The built-in models' training set, for an exact nearest neighbour (default: their index)."
    )
    parser.add_argument("--amsynth-train-data", type=Path, help="The amsynth models' training set (default: their index).")
    parser.add_argument(
        "--held-out-banks", nargs=3, default=HELD_OUT_BANKS, help="The amsynth bank files the amsynth models never saw in training."
    )
    parser.add_argument(
        "--budget", type=int, help="Renders per sound of the search rows (0: models alone; default: each synth config's search_budget)."
    )
    parser.add_argument(
        "--quick", action="store_true", help="20 rendered sounds, 10 per bank, 5 GM notes at one pitch, 5 short ones, 7 other sounds."
    )
    parser.add_argument("--rendered", type=int, default=100, help="Rendered test sounds (without --quick).")
    parser.add_argument("--seed", type=int, default=0, help="Seeds the random baseline and the searches.")
    parser.add_argument("--out", type=Path, default=RESULTS / "quality.json")
    args = parser.parse_args()
    groups = {"builtin": [load_model(m) for m in args.model or [DEFAULT_MODEL]]}
    if args.amsynth_model:
        groups["amsynth"] = [load_model(m) for m in args.amsynth_model]
    rows, notes, budgets = [], [], {}
    store = SearchStore(args.out.with_suffix(".searches"))  # an interrupted run, run again, goes on from its searches
    if "amsynth" not in groups:
        notes.append("no --amsynth-model: the held-out amsynth banks are skipped")
    with tempfile.TemporaryDirectory() as tmp:
        real = {
            "gm notes": gm_notes(Path(tmp) / "gm notes", args.quick),
            "gm short notes": gm_notes(Path(tmp) / "gm short notes", args.quick, SHORT_NOTE_S, (SHORT_NOTE_PITCH,)),
            "voices": voices(Path(tmp) / "voices"),
            "other sounds": other_sounds(Path(tmp) / "other sounds", args.quick),
        }
        for synth_name, models in groups.items():
            config = models[0].config
            budgets[synth_name] = config.search_budget if args.budget is None else args.budget
            synth = load_synth(config)
            sets = [rendered_targets(config, synth, 20 if args.quick else args.rendered)]
            if synth_name == "amsynth":
                sets.append(bank_targets(config, synth, 10 if args.quick else None, tuple(args.held_out_banks)))
            sets += [targets_from_audio_dir(folder, config) for folder in real.values()]
            for targets in sets:
                print(f"{synth_name}: {targets.name.rsplit('/', 1)[-1]} ({len(targets.mel)} sounds)", flush=True)
                train_data = args.train_data if synth_name == "builtin" else args.amsynth_train_data
                set_rows, set_notes = score(models, targets, synth, budgets[synth_name], args.seed, train_data, store)
                rows += [{"synth": synth_name, **r} for r in set_rows]
                notes += [f"{synth_name} {targets.name.rsplit('/', 1)[-1]}: {n}" for n in set_notes]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report("quality", rows, args.out)
    lines = verdicts(rows, set(real)) + notes
    print("\n".join(lines))
    saved = json.loads(args.out.read_text())
    saved.update({"budget": budgets, "quick": args.quick, "test_seed": TEST_SEED, "seed": args.seed, "verdicts": lines})
    args.out.write_text(json.dumps(saved, indent=1))
    store.clear()


if __name__ == "__main__":
    main()
