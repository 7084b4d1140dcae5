"""A self-contained HTML page to look at and listen to a grid of sounds over two latent knobs."""

__all__ = ["LatentGrid", "explore_page", "latent_grid", "write_explore_page"]

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthgen.audio_io import prepare_folder, wav_bytes
from synthgen.errors import SynthgenError
from synthgen.model import LoadedModel
from synthgen.synths.base import Synth
from synthgen.uses.audio_features import describe_audio
from synthgen.uses.macro import DimensionScore, ranking_table
from synthgen.uses.walk import Walk, check_latent_range, render_walk

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table.grid { border-collapse: collapse; }
table.grid td, table.grid th { border: 1px solid #ccc; padding: 4px; text-align: center; font-size: 12px; }
table.grid img { width: 160px; height: 128px; image-rendering: pixelated; display: block; margin: auto; }
table.grid audio { width: 160px; }
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


def latent_grid(model: LoadedModel, synth: Synth, dims: tuple[int, int], origin: np.ndarray, size: int, latent_range: float) -> LatentGrid:
    """Render a ``size`` x ``size`` grid from ``-latent_range`` to ``+latent_range`` around ``origin`` ``(D,)``."""
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
    walk = render_walk(model, synth, model.params_from_latent(z), z)
    descriptors = describe_audio(walk.audio, model.config.render.sample_rate, model.config.features)
    return LatentGrid(dims, offsets, walk, descriptors)


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
    title = html.escape(f"{config.name}: latent dimensions {across} (across) and {down} (down) of {model.path} ({model.name})")
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
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
    parts.append(f"<script>{_SCRIPT}</script></body></html>\n")
    return "\n".join(parts)


def write_explore_page(grid: LatentGrid, model: LoadedModel, out: str | Path, scores: list[DimensionScore] | None = None) -> Path:
    """Write the page of a grid as ``out/explore.html``."""
    path = prepare_folder(out) / "explore.html"
    path.write_text(explore_page(grid, model, scores), encoding="utf-8")
    return path
