"""Self-contained HTML pages to look at and listen to sounds: a grid over two latent knobs, and
resynthesized sounds next to their inputs."""

__all__ = [
    "HeardPair",
    "LatentGrid",
    "explore_page",
    "latent_grid",
    "resynth_page",
    "write_examples_page",
    "write_explore_page",
    "write_resynth_page",
]

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthgen.audio_io import prepare_folder, wav_bytes
from synthgen.config import FeatureSettings, SynthConfig
from synthgen.errors import SynthgenError
from synthgen.features import side_by_side_log_mels
from synthgen.model import LoadedModel
from synthgen.synths.base import Synth
from synthgen.uses.audio_features import describe_audio
from synthgen.uses.level import apply_gain_db
from synthgen.uses.macro import DimensionScore, ranking_table
from synthgen.uses.metrics import level_gain_db
from synthgen.uses.walk import Walk, check_latent_range, render_walk

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table.grid { border-collapse: collapse; }
table.grid td, table.grid th { border: 1px solid #ccc; padding: 4px; text-align: center; font-size: 12px; }
table.grid img { width: 160px; height: 128px; image-rendering: pixelated; display: block; margin: auto; }
table.grid audio { width: 160px; }
table.pairs td { vertical-align: top; padding: 6px 10px; border-bottom: 1px solid #ddd; font-size: 13px; }
table.pairs td:first-child { max-width: 26em; }
table.pairs img { height: 96px; image-rendering: pixelated; display: block; }
pre { font-size: 12px; background: #f4f4f4; padding: 0.6em; }
"""
# One sound at a time: starting a player pauses the others.
_SCRIPT = """
document.addEventListener("play", e => {
  for (const a of document.querySelectorAll("audio")) if (a !== e.target) a.pause();
}, true);
"""


@dataclass
class LatentGrid:
    """Sounds on a square grid over two latent dimensions, the others at the centre.

    Arguments:
        dims: the (horizontal, vertical) latent dimensions.
        offsets: values added to the origin along each of them ``(N,)``.
        walk: the rendered points ``(N * N, ...)``, row ``i`` (vertical offset ``i``) after row ``i - 1``.
        descriptors: audio descriptor name -> values ``(N * N,)``.
    """

    dims: tuple[int, int]
    offsets: np.ndarray
    walk: Walk
    descriptors: dict[str, np.ndarray]


def latent_grid(
    model: LoadedModel,
    synth: Synth,
    dims: tuple[int, int],
    origin: np.ndarray,
    size: int,
    latent_range: float,
    midi_pitch: int | None = None,
) -> LatentGrid:
    """Render a ``size`` x ``size`` grid from ``-latent_range`` to ``+latent_range`` around ``origin`` ``(D,)``, at
    ``midi_pitch`` (default: the model's note)."""
    if size < 2:
        raise SynthgenError(f"a grid needs at least 2 points per side, got {size}")
    if dims[0] == dims[1] or not all(0 <= d < len(origin) for d in dims):
        raise SynthgenError(f"give two different latent dimensions between 0 and {len(origin) - 1}, got {dims[0]} and {dims[1]}")
    check_latent_range(latent_range)
    offsets = np.linspace(-latent_range, latent_range, size, dtype=np.float32)
    z = np.repeat(np.asarray(origin, dtype=np.float32)[None], size * size, axis=0)
    vertical, horizontal = np.meshgrid(offsets, offsets, indexing="ij")
    z[:, dims[0]] += horizontal.ravel()
    z[:, dims[1]] += vertical.ravel()
    walk = render_walk(model, synth, model.params_from_latent(z), z, midi_pitch)
    descriptors = describe_audio(walk.audio, model.config.render.sample_rate, model.config.features)
    return LatentGrid(dims, offsets, walk, descriptors)


def _page(title: str, body: list[str]) -> str:
    """A whole page: ``title`` (escaped here) as its title and heading, then ``body`` (HTML), one sound playing at a time."""
    title = html.escape(title)
    head = f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{_STYLE}</style></head><body>'
    return "\n".join([head, f"<h1>{title}</h1>", *body, f"<script>{_SCRIPT}</script></body></html>\n"])


def _data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def _thumbnail(mel: np.ndarray, vmin: float, vmax: float) -> bytes:
    from synthgen.plots import save_mel_thumbnail

    buffer = io.BytesIO()
    save_mel_thumbnail(mel, buffer, vmin, vmax)
    return buffer.getvalue()


def _cell(grid: LatentGrid, k: int, sample_rate: int, vmin: float, vmax: float) -> str:
    """One grid point: its log-mel thumbnail, an audio player and a caption, all inline."""
    across, down = grid.dims
    size = len(grid.offsets)
    z_across, z_down = grid.offsets[k % size], grid.offsets[k // size]
    rms_db = 20 * np.log10(max(float(grid.descriptors["rms"][k]), 1e-10))
    image = _data_uri("image/png", _thumbnail(grid.walk.mel[k], vmin, vmax))
    sound = _data_uri("audio/wav", wav_bytes(grid.walk.audio[k], sample_rate))
    return (
        f'<td><img alt="log-mel at z{across} {z_across:+.2f}, z{down} {z_down:+.2f}" src="{image}">'
        f'<audio controls preload="none" src="{sound}"></audio>'
        f"<br>centroid {grid.descriptors['centroid_hz'][k]:.0f} Hz, RMS {rms_db:.0f} dB</td>"
    )


def explore_page(grid: LatentGrid, model: LoadedModel, scores: list[DimensionScore] | None = None) -> str:
    """The HTML page of a grid: spectrogram thumbnails and audio players inline, nothing fetched from elsewhere."""
    config = model.config
    vmin, vmax = float(grid.walk.mel.min()), float(grid.walk.mel.max())
    size = len(grid.offsets)
    across, down = grid.dims
    parts = [
        f"<p>Each cell is the synth playing the parameters the model maps that latent point to: its log-mel "
        f"({config.features.fmin:g}-{config.features.fmax:g} Hz upwards, {config.render.render_duration_s:g} s across) "
        "and its sound. The other latent dimensions stay at the centre.</p>",
        '<table class="grid"><tr><th></th>' + "".join(f"<th>z{across} {v:+.2f}</th>" for v in grid.offsets) + "</tr>",
    ]
    for i in reversed(range(size)):
        cells = "".join(_cell(grid, i * size + j, config.render.sample_rate, vmin, vmax) for j in range(size))
        parts.append(f"<tr><th>z{down} {grid.offsets[i]:+.2f}</th>{cells}</tr>")
    parts.append("</table>")
    if scores:
        parts.append(f"<h2>Latent dimensions ranked as knobs</h2><pre>{html.escape(ranking_table(scores))}</pre>")
    return _page(f"{config.name}: latent dimensions {across} (across) and {down} (down) of {model.path} ({model.name})", parts)


def write_explore_page(grid: LatentGrid, model: LoadedModel, out: str | Path, scores: list[DimensionScore] | None = None) -> Path:
    """Write the page of a grid as ``out/explore.html``."""
    path = prepare_folder(out) / "explore.html"
    path.write_text(explore_page(grid, model, scores), encoding="utf-8")
    return path


@dataclass
class HeardPair:
    """One resynthesized sound: its input and output audio (mono, one rate), one line about how it was
    matched, and the preset file written beside the page."""

    name: str
    input_audio: np.ndarray
    output_audio: np.ndarray
    caption: str
    preset: str | None = None


#: width of a second of sound on the resynth page
_PIXELS_PER_S = 60


def _pair_row(pair: HeardPair, sample_rate: int, settings: FeatureSettings) -> str:
    """A table row: the input's log-mel and sound over the output's, one time axis and colour scale, then the caption."""
    mels = side_by_side_log_mels(pair.input_audio, pair.output_audio, sample_rate, settings)
    vmin, vmax = float(mels.min()), float(mels.max())
    width = max(60, round(mels.shape[2] * settings.hop_length / sample_rate * _PIXELS_PER_S))
    shown = []
    for label, mel, audio in (("input", mels[0], pair.input_audio), ("resynthesis", mels[1], pair.output_audio)):
        image = _data_uri("image/png", _thumbnail(mel, vmin, vmax))
        sound = _data_uri("audio/wav", wav_bytes(audio, sample_rate))
        shown.append(
            f'<div>{label}<img alt="log-mel of the {label}" style="width: {width}px" src="{image}">'
            f'<audio controls preload="none" src="{sound}"></audio></div>'
        )
    preset = f'<br><a href="{html.escape(pair.preset)}">{html.escape(pair.preset)}</a>' if pair.preset else ""
    return f"<tr><td><b>{html.escape(pair.name)}</b><br>{html.escape(pair.caption)}{preset}</td><td>{''.join(shown)}</td></tr>"


def resynth_page(pairs: list[HeardPair], model: LoadedModel) -> str:
    """The HTML page of resynthesized sounds: each input over its resynthesis, to look at and listen to."""
    config = model.config
    rows = "".join(_pair_row(pair, config.render.sample_rate, config.features) for pair in pairs)
    return _page(
        f"{len(pairs)} sound{'s' * (len(pairs) != 1)} resynthesized by {config.name} with {model.path} ({model.name})",
        [
            f"<p>Each input (as the model hears it, at {config.render.sample_rate} Hz, mono) over its resynthesis, "
            "played at the level fitted to the input: their log-mels on one time axis and colour scale, and their sounds.</p>",
            f'<table class="pairs">{rows}</table>',
        ],
    )


def write_resynth_page(pairs: list[HeardPair], model: LoadedModel, out: str | Path) -> Path:
    """Write the page of resynthesized sounds as ``out/resynth.html``."""
    path = prepare_folder(out) / "resynth.html"
    path.write_text(resynth_page(pairs, model), encoding="utf-8")
    return path


def write_examples_page(
    mels: dict[str, np.ndarray], sounds: dict[str, np.ndarray], labels: list[str], config: SynthConfig, title: str, path: Path
) -> Path:
    """Write a page of examples: one row per example target (``labels``), one column per source (the target
    first, then each method), each cell its log-mel (from ``mels``, ``(N, n_mels, n_frames)`` per source, one
    colour scale per row) and its sound (from ``sounds``, ``(N, n_samples)`` per source, each method's
    played at the level fitted to its target)."""
    sources, target = list(mels), next(iter(sounds.values()))
    rate = config.render.sample_rate
    rows = []
    for k, label in enumerate(labels):
        vmin, vmax = min(float(mels[s][k].min()) for s in sources), max(float(mels[s][k].max()) for s in sources)
        cells = []
        for column, source in enumerate(sources):
            audio = sounds[source][k]
            if column:
                audio = apply_gain_db(audio[None], level_gain_db(target[k : k + 1], audio[None]))[0]
            image = _data_uri("image/png", _thumbnail(mels[source][k], vmin, vmax))
            cells.append(
                f'<td><img alt="log-mel: {html.escape(source)}, {html.escape(label)}" src="{image}">'
                f'<audio controls preload="none" src="{_data_uri("audio/wav", wav_bytes(audio, rate))}"></audio></td>'
            )
        rows.append(f"<tr><th>{html.escape(label)}</th>{''.join(cells)}</tr>")
    header = "".join(f"<th>{html.escape(source)}</th>" for source in sources)
    body = [
        "<p>Each row is a target and, beside it, each method's re-render of it: its log-mel and its sound, played "
        "at the level fitted to the target, so that what differs is the timbre.</p>",
        f'<table class="grid"><tr><th></th>{header}</tr>{"".join(rows)}</table>',
    ]
    path.write_text(_page(title, body), encoding="utf-8")
    return path
