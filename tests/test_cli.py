"""The command line end to end: help, a real render, and one-line errors for user mistakes."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from synthgen.cli import main
from synthgen.config import load_config
from synthgen.model import DEFAULT_MODEL

from .conftest import requires_amsynth, run_apart

KARS = Path("/usr/lib/vst/Kars-vst.so")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_help_lists_every_command_in_the_order_work_flows_and_its_examples_name_real_commands() -> None:
    code, out = run("--help")
    assert code == 0
    listed = [line.split()[0] for line in out.split("Commands:")[1].strip().splitlines()]
    assert sorted(listed) == sorted(main.commands) and listed != sorted(listed)
    assert listed.index("render") < listed.index("train") < listed.index("index") < listed.index("resynth")
    examples = [line.split()[1] for line in out.splitlines() if line.strip().startswith("synthgen ")]
    assert len(examples) >= 5 and set(examples) <= set(main.commands)


@pytest.mark.parametrize("group", ["dataset", "presets"])
def test_a_group_named_alone_shows_its_help(group: str) -> None:
    result = CliRunner().invoke(main, [group])
    assert "Commands:" in result.output and "Error" not in result.output


def test_render_then_dataset_info(tmp_path: Path) -> None:
    code, out = run("render", "--synth", "builtin", "--n", "20", "--chunk-size", "8", "--out", str(tmp_path / "d"))
    assert code == 0, out
    assert "rows        20" in out
    code, out = run("dataset", "info", str(tmp_path / "d"))
    assert code == 0 and "synth       builtin" in out and "cutoff" in out


def test_dataset_info_draws_the_dataset_at_a_glance(builtin_dataset: Path, tmp_path: Path) -> None:
    from synthgen.dataset.summary import dataset_overview

    seen = [dataset_overview(builtin_dataset, sample_rows=50, n_examples=6, seed=s) for s in (1, 1, 2)]
    assert seen[0].unit.shape == (50, len(seen[0].config.space.names)) and seen[0].examples.shape[0] == 6
    assert seen[0].labels == seen[1].labels != seen[2].labels  # seeded rows
    assert np.all((seen[0].unit >= 0) & (seen[0].unit <= 1)) and set(seen[0].midi_pitch) == {60}
    code, out = run("dataset", "info", str(builtin_dataset), "--plot", str(tmp_path / "figs" / "glance.png"))
    assert code == 0 and out.endswith(f"wrote {tmp_path / 'figs' / 'glance.png'}\n"), out
    assert (tmp_path / "figs" / "glance.png").read_bytes().startswith(b"\x89PNG")
    code, out = run("dataset", "info", str(builtin_dataset), "--plot", str(tmp_path / "glance.pdf"))
    assert code != 0 and "must end in .png" in out and len(out.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("command", "target", "note"),
    [
        (["render", "--n", "4"], "synthgen.dataset.render_dataset", "run the same command again to resume"),
        (["train", "--data", "data"], "synthgen.train.train_model", "no epoch finished: run the same command again, without --resume"),
        (["macro"], "synthgen.uses.walk.open_model", None),
        (
            ["evaluate", "--model", str(DEFAULT_MODEL), "--audio-dir", str(EXAMPLES), "--budget", "8"],
            "synthgen.uses.evaluate.evaluate",
            "the searches that finished are kept in --out; run the same command again to go on from there",
        ),
    ],
)
def test_ctrl_c_says_how_to_go_on_only_where_a_command_can(
    command: list[str], target: str, note: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(target, interrupt)
    result = CliRunner().invoke(main, [*command, "--out", str(tmp_path / "out")])
    assert result.exit_code == 130
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted")
    assert (note in lines[0]) if note else lines[0] == "interrupted"


def test_ctrl_c_in_a_refit_says_the_model_is_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("synthgen.train.refit.refit_flow", interrupt)
    result = CliRunner().invoke(main, ["refit-flow", "run", "--data", "data"])
    assert result.exit_code == 130
    assert result.stderr.strip() == "interrupted: the run's model.pt is as it was (nothing is replaced until the command ends)"


@requires_amsynth
def test_info_lists_plugin_parameters() -> None:
    code, out = run("info", "--synth", "amsynth")
    assert code == 0
    assert "filter_cutoff" in out and "learned continuous" in out and "fixed 0.67" in out
    (volume,) = [line for line in out.splitlines() if line.startswith("master_vol")]
    assert "the volume native presets carry their gain in (level ~ value^2)" in volume


@pytest.mark.skipif(not KARS.exists(), reason="Debian package dpf-plugins-vst is not installed")
def test_plugin_without_config_gets_a_starter_config(tmp_path: Path) -> None:
    out_file = tmp_path / "kars.yaml"
    done = run_apart("info", "--synth", str(KARS), "--write-config", str(out_file))
    assert done.returncode == 0, done.stderr
    config = load_config(out_file)
    assert config.backend == "plugin" and config.space.size >= 3
    # the budget is timed here: the line printed says what was written
    (timed,) = [line for line in done.stdout.splitlines() if line.startswith("search_budget ")]
    assert timed.startswith(f"search_budget {config.search_budget}: ") and " renders a second here" in timed
    assert 40 <= config.search_budget <= 2000 and config.search_budget % 10 == 0
    assert not any(name.startswith("MIDI CC") for name in config.space.names)
    done = run_apart("info", "--synth", str(out_file), "--probe")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("a sweep changes") == config.space.size and done.stdout.splitlines()[-1].startswith("probe:")
    done = run_apart("render", "--synth", str(out_file), "--n", "8", "--chunk-size", "8", "--out", str(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
