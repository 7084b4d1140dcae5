"""The bad-input battery: every user mistake ends with exactly one line on stderr, a non-zero exit and no traceback.

Add a case for every new command or option: ``{name}`` in an argument is replaced by a path the
fixtures below make.
"""

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from click.testing import CliRunner

from synthgen.cli import main
from synthgen.config import CONFIG_DIR
from synthgen.model import DEFAULT_MODEL
from synthgen.train import TrainSettings, train_model

BUILTIN = yaml.safe_load((CONFIG_DIR / "builtin.yaml").read_text())


def _config(**changes: object) -> dict:
    """The built-in config with some keys replaced (``learned``: the entry of the same parameter name)."""
    data = json.loads(json.dumps(BUILTIN))
    data["dsp"] = str(CONFIG_DIR / "builtin.dsp")
    for key, value in changes.items():
        if key == "learned":
            data["learned"] = [value if entry["name"] == value["name"] else entry for entry in data["learned"]]
        elif key in ("render", "features", "fixed"):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


#: name -> a config that must be refused
BAD_CONFIGS = {
    "range_scalar": _config(learned={"name": "osc1_shape", "range": 5}),
    "range_string": _config(learned={"name": "osc1_shape", "range": "0 to 1"}),
    "range_one": _config(learned={"name": "osc1_shape", "range": [0.5]}),
    "range_beyond_slider": _config(learned={"name": "cutoff", "range": [135, 992]}),
    "categorical_empty": _config(learned={"name": "osc2_semitones", "kind": "categorical", "values": []}),
    "n_fft_zero": _config(features={"n_fft": 0}),
    "hop_zero": _config(features={"hop_length": 0}),
    "rate_zero": _config(render={"sample_rate": 0}),
    "rate_negative": _config(render={"sample_rate": -22050}),
    "duration_zero": _config(render={"render_duration_s": 0}),
    "duration_huge": _config(render={"render_duration_s": 1e9}),
    "fixed_string": _config(fixed={"volume": "loud"}),
    "fixed_beyond_slider": _config(fixed={"volume": 50.0}),
}


@pytest.fixture(scope="module")
def paths(builtin_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every file the battery refers to."""
    root = tmp_path_factory.mktemp("battery")
    run = root / "run"
    tiny = {"channels": 8, "conv_layers": 3, "hidden": 32}
    train_model(builtin_dataset, run, TrainSettings(model="vae_flow_post", epochs=1, batch_size=16, model_settings=tiny), progress=False)
    mlp = root / "mlp"
    small_mlp = {"hidden": 32, "layers": 2}
    train_model(builtin_dataset, mlp, TrainSettings(model="mlp", epochs=1, batch_size=16, model_settings=small_mlp), progress=False)
    found = {"data": builtin_dataset, "run": run, "model": run / "model.pt", "mlp": mlp, "root": root}
    for name, config in BAD_CONFIGS.items():
        found[f"config_{name}"] = root / f"{name}.yaml"
        found[f"config_{name}"].write_text(yaml.safe_dump(config))
    t = np.arange(22050) / 22050
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    sf.write(root / "tone.wav", tone, 22050)
    with_nan = tone.copy()
    with_nan[100] = np.nan
    sf.write(root / "nan.wav", with_nan, 22050, subtype="FLOAT")
    (root / "text.wav").write_text("not audio\n")
    found |= {name: root / f"{name}.wav" for name in ("tone", "nan", "text")}
    for name, preset in {
        "preset_of_amsynth": {"synth": "amsynth", "backend": "plugin", "parameters": {"amp_attack": 0.1}},
        "preset_parameters_list": {"parameters": [1, 2]},
        "preset_display_string": {"parameters": {"cutoff": 60.0}, "display": "loud"},
        "preset_note_string": {"parameters": {"cutoff": 60.0}, "note": "C4"},
        "preset_synth_number": {"synth": 3, "parameters": {"cutoff": 60.0}},
    }.items():
        document = {"format": "synthgen-preset-1", "synth": "builtin", "backend": "faust", **preset}
        found[name] = root / name / "p.json"
        found[name].parent.mkdir()
        found[name].write_text(json.dumps(document))
    read_only = root / "read_only"
    read_only.mkdir()
    read_only.chmod(0o555)
    found["read_only"] = read_only
    found["a_file"] = root / "tone.wav"
    return found


BATTERY = [
    # configs (render builds the synth the config describes)
    (["render", "--n", "0", "--out", "{root}/never"], "--n must be at least 1"),
    (["render", "--synth", "nosuch", "--n", "4", "--out", "{root}/never"], "unknown synth config 'nosuch'"),
    (["render", "--synth", "/nowhere/plugin.vst3", "--n", "4", "--out", "{root}/never"], "plugin file not found"),
    (["render", "--synth", "diva", "--n", "10", "--jobs", "8", "--out", "{root}/never"], "plugin"),
    (["render", "--n", "4", "--out", "{a_file}"], "is a file"),
    (["info", "--synth", "diva", "--plugin", "/nowhere/Diva.64.so"], "plugin file not found"),
    (["info", "--synth", "builtin", "--plugin", "{a_file}"], "--plugin is for plugin synths"),
    (["resynth", "{tone}", "--model", "{model}", "--plugin", "{a_file}", "--out", "{root}/r0"], "--plugin is for plugin synths"),
    *[(["render", "--synth", f"{{config_{name}}}", "--n", "2", "--out", "{root}/never"], None) for name in BAD_CONFIGS],
    (["info", "--synth", "{config_range_beyond_slider}"], "goes beyond what the synth accepts (20 to 135)"),
    (["render", "--n", "2", "--notes", "200", "--out", "{root}/never"], "MIDI note 200 is outside 0-127"),
    (["render", "--n", "2", "--notes", "-1", "--out", "{root}/never"], "MIDI note -1 is outside 0-127"),
    (["render", "--n", "2", "--velocities", "500", "--out", "{root}/never"], "MIDI velocity 500 is outside 1..127"),
    (["render", "--n", "2", "--seed", "-1", "--out", "{root}/never"], "--seed must be 0 or more"),
    (["render", "--n", "2", "--chunk-size", "0", "--out", "{root}/never"], "--chunk-size must be at least 1"),
    # train
    (["train", "--data", "{data}", "--out", "{root}/t1", "--batch-size", "1"], "--batch-size must be at least 2"),
    (["train", "--data", "{data}", "--out", "{root}/t2", "--lr", "0"], "--lr must be"),
    (["train", "--data", "{data}", "--out", "{root}/t3", "--lr", "-1"], "--lr must be"),
    (["train", "--data", "{data}", "--out", "{root}/t4", "--lr", "nan"], "--lr must be"),
    (["train", "--data", "{data}", "--out", "{root}/t5", "--epochs", "0"], "--epochs must be at least 1"),
    (["train", "--data", "{data}", "--out", "{root}/t6", "--device", "tpu"], "--device"),
    (["train", "--data", "{data}", "--out", "{root}/t7", "--batch-size", "many"], "'many' is not a valid integer"),
    (["train", "--data", "{data}", "--out", "{run}"], "--resume"),
    (["train-surrogate", "{root}", "--data", "{data}"], "model file not found"),
    (["train-surrogate", "{run}", "--data", "{data}", "--epochs", "0"], "0 is not in the range x>=1"),
    (["train-surrogate", "{run}", "--data", "{data}", "--device", "tpu"], "--device"),
    (["train-surrogate", "{run}", "--data", "{root}/nodata"], "no dataset at"),
    (["refit-flow", "{run}", "--data", "{data}", "--spectral-weight", "1"], "train one first with `synthgen train-surrogate"),
    (["refit-flow", "{run}", "--data", "{data}", "--spectral-weight", "-1"], "-1.0 is not in the range x>=0"),
    (["refit-encoder", "{root}", "--data", "{data}"], "model file not found"),
    (["refit-encoder", "{run}", "--data", "{data}", "--epochs", "0"], "0 is not in the range x>=1"),
    (["refit-encoder", "{run}", "--data", "{data}", "--consistency-weight", "-1"], "-1.0 is not in the range x>=0"),
    (["refit-encoder", "{run}", "--data", "{root}/nodata"], "no dataset at"),
    (["train", "--data", "/proc", "--out", "{root}/t8"], "no dataset at /proc"),
    (["train", "--data", "{data}", "--out", "/proc/synthgen-run"], None),
    # evaluate
    (["evaluate", "--model", "{model}", "--data", "{data}", "--max-rows", "0"], "0 is not in the range x>=1"),
    (["evaluate", "--model", "{model}"], "give exactly one of --data and --audio-dir"),
    (["evaluate", "--model", "{model}", "--data", "{data}", "--train-data", "/nowhere"], "no dataset at /nowhere"),
    # uses of a model
    (["resynth", "{nan}", "--model", "{model}", "--out", "{root}/r1"], "holds invalid (NaN or infinite) samples"),
    (["resynth", "{text}", "--model", "{model}", "--out", "{root}/r2"], "is not an audio file"),
    (["resynth", "/proc/self/status", "--model", "{model}", "--out", "{root}/r3"], "is not an audio file"),
    (["resynth", "{tone}", "--model", "{model}", "--out", "{read_only}/sub"], None),
    (["resynth", "{tone}", "--model", "{model}", "--out", "/proc/synthgen-out"], None),
    # /sys refuses new files even to root: an unwritable --out wherever the tests run
    (["resynth", "{tone}", "--model", "{model}", "--out", "/sys/synthgen-out"], "cannot use /sys/synthgen-out"),
    (["train", "--data", "{data}", "--out", "/sys/synthgen-run"], "cannot use /sys/synthgen-run"),
    (
        ["evaluate", "--model", "{model}", "--data", "{data}", "--max-rows", "2", "--out", "/sys/synthgen-eval"],
        "cannot use /sys/synthgen-eval",
    ),
    (["render", "--n", "2", "--out", "/sys/synthgen-data"], "/sys/synthgen-data"),
    (["resynth", "{tone}", "--model", "{model}", "--out", "{a_file}"], "is a file"),
    (["resynth", "{tone}", "--model", "{model}", "--budget", "100000000000", "--out", "{root}/r4"], "--budget"),
    (["resynth", "{tone}", "--model", "{model}", "--synth", "amsynth"], "not 'amsynth'"),
    (["resynth", "{tone}", "--model", "{model}", "--note", "H4"], "neither a MIDI note number nor a note name"),
    (["resynth", "{tone}", "--model", "{model}", "--note", "G#9"], "G#9 is MIDI note 128, outside 0-127"),
    (["resynth", "{tone}", "--model", "{text}"], "not a synthgen model"),
    (["sketch", "{nan}", "--model", "{model}", "--out", "{root}/s1"], "holds invalid (NaN or infinite) samples"),
    (["macro", "--model", "{model}", "--dims", "0", "--out", "{read_only}/sub"], None),
    (["interpolate", "{tone}", "{tone}", "--model", "{model}", "--out", "{root}/i1"], "map to the same preset"),
    (["explore", "--model", "{model}", "--dims", "0", "1", "--steps", "2", "--out", "/proc/synthgen-explore"], None),
    # presets
    *[(["presets", "list", f"{{{name}}}"], None) for name in ("preset_parameters_list", "preset_display_string", "preset_note_string")],
    (["presets", "list", "{preset_synth_number}"], "'synth' must be a string"),
    (["presets", "list", "/nowhere"], "not found"),
    (["presets", "export", "{tone}", "--out", "{root}/x.bank"], "unknown preset format"),
    # datasets
    (["dataset", "info", "/proc"], "no dataset at /proc"),
    (["dataset", "info", "{a_file}"], "is not a synthgen dataset"),
    (["dataset", "info", "{data}", "--plot", "{a_file}/glance.png"], "is a file, not a folder"),
    (["dataset", "info", "{data}", "--plot", "{root}/glance.svg"], "the figure's file name must end in .png"),
    (["dataset", "verify", "/nowhere"], "no dataset at /nowhere"),
    (["dataset", "verify", "{a_file}"], "is not a synthgen dataset"),
    (["render", "--n", "100000000000000000000", "--out", "{root}/d5"], "one dataset may hold"),
    # walks of the latent space: models without one, missing dimensions, too few or too many steps...
    (["macro", "--model", "{mlp}", "--dims", "0", "--out", "{root}/m0"], "(mlp) has none"),
    (["interpolate", "{tone}", "{tone}", "--model", "{mlp}", "--out", "{root}/i0"], "(mlp) has none"),
    (["explore", "--model", "{mlp}", "--out", "{root}/e0"], "(mlp) has none"),
    (["serve", "--port", "{port}", "--model", "{mlp}"], "(mlp) has none"),
    (["macro", "--model", "{model}", "--steps", "1", "--out", "{root}/m0"], "1 is not in the range 2<=x<=1000"),
    (["interpolate", "{tone}", "{tone}", "--model", "{model}", "--steps", "1", "--out", "{root}/i0"], "1 is not in the range 2<=x<=1000"),
    (["macro", "--model", "{model}", "--dims", "99", "--out", "{root}/m0"], "latent dimension 99 does not exist"),
    (["macro", "--model", "{model}", "--dims", "0", "--from", "{preset_of_amsynth}", "--out", "{root}/m0"], "trained for 'amsynth'"),
    (["explore", "--model", "{model}", "--dims", "3", "--out", "{root}/e0"], "needs two latent dimensions"),
    (["interpolate", "{tone}", "{root}/nope.wav", "--model", "{model}", "--out", "{root}/i0"], "audio file not found"),
    (["sketch", "{text}", "--model", "{model}", "--out", "{root}/s0"], "is not an audio file"),
    (["sketch", "{tone}", "--model", "{root}/nope.pt", "--out", "{root}/s0"], "model not found"),
    (["macro", "--model", "{text}", "--out", "{root}/m0"], "is not a synthgen model checkpoint"),
    (["macro", "--model", "{model}", "--dims", "0", "--out", "{text}"], "is a file"),
    (["macro", "--model", "{model}", "--dims", "0", "0", "--out", "{root}/m1"], "latent dimension 0 is given twice"),
    (["macro", "--model", "{model}", "--dims", "0", "--range", "inf", "--out", "{root}/m2"], "--range must be a positive finite"),
    (["macro", "--model", "{model}", "--steps", "100000000000", "--out", "{root}/m3"], "not in the range 2<=x<=1000"),
    (["explore", "--model", "{model}", "--dims", "0", "1", "--range", "nan", "--out", "{root}/e1"], "--range must be a positive finite"),
    (["explore", "--model", "{model}", "--steps", "65", "--out", "{root}/e2"], "not in the range 2<=x<=64"),
    (["interpolate", "{tone}", "{tone}", "--model", "{model}", "--steps", "100000000", "--out", "{root}/i3"], "2<=x<=1000"),
    (["evaluate", "--model", "{model}", "--data", "{data}", "--out", "{a_file}"], "is a file"),
    # serve (on {port}, one no other program holds: it opens its port first): refused before serving
    (["serve", "--port", "{port}", "--model", "{model}", "--dims", "0", "--dims", "0"], "latent dimension 0 is given twice"),
    (["serve", "--port", "{port}", "--model", "{model}", "--range", "nan"], "--range must be a positive finite"),
    (["serve", "--port", "{port}", "--model", "{model}", "--knobs", "1000"], "--knobs 1000 is more than the"),
    (["serve", "--port", "{port}", "--model", "{model}", "--presets-dir", "{a_file}"], "is a file"),
    (["serve", "--port", "{port}", "--model", "{model}", "--host", "999.1.1.1"], "choose another --host"),
    (["serve", "--port", "{port}", "--model", "{text}"], "not a synthgen model"),
    (["serve", "--port", "{port}", "--model", "{root}"], "model file not found"),
    (["serve", "--port", "{port}", "--model", "{model}", "--osc-out", "nowhere"], "--osc-out must be host:port"),
    (["serve", "--port", "{port}", "--model", "{model}", "--osc-carla", "0"], "--osc-carla needs --osc-out"),
    # export, configs, banks
    (["export-onnx", "{text}"], "not a synthgen model"),
    (["export-onnx", "/nowhere"], "model file not found"),
    (["info", "--write-config", "{root}/mine.txt"], "the file name must end in .yaml"),
    (["info", "--write-config", "{config_rate_zero}"], "exists: give a new file name"),
    (["info", "--write-config", "/sys/synthgen.yaml"], "cannot use /sys/synthgen.yaml"),
    (["presets", "export", "{preset_parameters_list}", "--out", "{root}/x.json"], "must end in .bank"),
]

if not torch.cuda.is_available():
    BATTERY.append((["train", "--data", "{data}", "--out", "{root}/t9", "--device", "cuda"], "sees no CUDA GPU"))
if DEFAULT_MODEL.exists():
    BATTERY.append((["interpolate", "{tone}", "{tone}", "--out", "{root}/i2"], "map to the same preset"))


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that no program listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ids() -> list[str]:
    return ["-".join(a.strip("{}-").split("/")[-1] for a in args[:3]) + f"-{i}" for i, (args, _) in enumerate(BATTERY)]


@pytest.mark.parametrize(("args", "message"), BATTERY, ids=_ids())
def test_mistake_is_one_line_on_stderr(args: list[str], message: str | None, paths: dict[str, Path]) -> None:
    if "{read_only}" in " ".join(args) and os.access(paths["read_only"], os.W_OK):
        pytest.skip("running as root: a read-only folder is writable")
    result = CliRunner().invoke(main, [a.format(**paths, port=_free_port()) for a in args])
    assert result.exit_code not in (0, None), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    if message is not None:
        assert message in lines[0]
