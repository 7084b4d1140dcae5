"""Run the instrument: load the model and synth, rank the knobs, and serve the page and the OSC bridge."""

__all__ = ["build_instrument", "open_port", "parse_host_port", "run_server", "uvicorn_config"]

import errno
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from synthgen.errors import SynthgenError
from synthgen.serve.app import create_app
from synthgen.serve.instrument import Instrument
from synthgen.serve.knobs import choose_knobs
from synthgen.synths.loading import load_synth
from synthgen.uses.walk import open_model


def parse_host_port(text: str, what: str) -> tuple[str, int]:
    """``host:port`` (or a bare port, on 127.0.0.1) -> ``(host, port)``."""
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SynthgenError(f"{what} must be host:port or a port from 1 to 65535, got '{text}'")
    return host or "127.0.0.1", int(port)


def build_instrument(
    model_path: str | Path,
    synth: str | None = None,
    plugin: str | Path | None = None,
    knobs: int = 8,
    dims: Sequence[int] = (),
    latent_range: float = 3.0,
    presets_dir: str | Path = "presets",
    osc_listen: tuple[str, int] | None = None,
    osc_send_to: tuple[str, int] | None = None,
    carla_plugin: int | None = None,
) -> Instrument:
    """Load a model and its synth, rank the latent dimensions as knobs, and start the instrument.

    Arguments:
        model_path: an invertible latent model (``vae_flow_post``) file or run folder.
        synth: your config (name or ``.yaml``) for the model's synth: where its plugin is found
            (default: the shipped config of that name).
        plugin: plugin file overriding the config's search paths.
        knobs: how many of the best latent dimensions become knobs (without ``dims``).
        dims: latent dimensions to use as knobs, in order (at least 2).
        latent_range: knobs span ``-latent_range .. latent_range``.
        presets_dir: where saved presets go.
        osc_listen, osc_send_to: OSC ``(host, port)`` in and out, or ``None``.
        carla_plugin: send OSC out as Carla's control messages for the plugin of this id.
    """
    if Path(presets_dir).is_file():
        raise SynthgenError(f"--presets-dir {presets_dir} is a file; give a folder for the saved presets")
    model = open_model(model_path, "serve", synth, plugin)

    own_synth = load_synth(model.config, plugin)
    chosen = choose_knobs(model, own_synth, knobs, dims, latent_range=latent_range)
    return Instrument(model, own_synth, chosen, presets_dir, latent_range, osc_listen, osc_send_to, plugin, carla_plugin)


def open_port(host: str, port: int) -> socket.socket:
    """Bind and listen on a TCP port for the page, or refuse in one line when another program has it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
        sock.listen(64)
    except OSError as e:
        sock.close()
        if isinstance(e, socket.gaierror) or e.errno == errno.EADDRNOTAVAIL:
            fix = "it is not an address of this computer; choose another --host (127.0.0.1: this computer only)"
        elif e.errno == errno.EACCES:
            fix = "ports below 1024 need administrator rights; choose another --port"
        else:
            fix = "another program uses it; choose another --port"
        raise SynthgenError(f"cannot serve on {host}:{port} ({e.strerror}): {fix}") from None
    return sock


def uvicorn_config(instrument: Instrument, **settings: Any) -> uvicorn.Config:
    """How uvicorn serves the instrument's app (``settings``: more ``uvicorn.Config`` arguments)."""
    # No per-message deflate: compressing each sound took longer than rendering it.
    return uvicorn.Config(create_app(instrument), log_level="warning", lifespan="off", ws_per_message_deflate=False, **settings)


def run_server(instrument: Instrument, listening: socket.socket, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the instrument's page and API until Ctrl-C, then stop its threads and render process.

    Arguments:
        instrument: a started instrument.
        listening: the socket from :func:`open_port`.
        on_ready: called with the page's URL before serving starts.
    """
    host, port = listening.getsockname()[:2]
    try:
        server = uvicorn.Server(uvicorn_config(instrument))
        if on_ready is not None:
            on_ready(f"http://{host}:{port}/")
        server.run(sockets=[listening])
    except KeyboardInterrupt:  # uvicorn has shut down cleanly, then passes Ctrl-C on
        pass
    finally:
        listening.close()
        instrument.close()
