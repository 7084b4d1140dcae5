"""The ``serve`` command: a browser instrument panel and an OSC bridge for a latent model."""

__all__ = ["serve"]

from pathlib import Path

import click

from synthgen.cli.options import latent_range_option, model_option, model_synth_options
from synthgen.errors import SynthgenError


@click.command()
@model_option("An invertible latent model (vae_flow_post): model.pt or its run folder.")
@model_synth_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on (127.0.0.1: this computer only).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port of the page.")
@click.option(
    "--osc-in", type=click.IntRange(1, 65535), default=None, help="UDP port to receive OSC on (same host as the page), e.g. 9000."
)
@click.option(
    "--osc-out", default=None, metavar="HOST:PORT", help="Send the parameters as OSC here after every change, e.g. 127.0.0.1:9001."
)
@click.option(
    "--osc-carla",
    "carla_plugin",
    type=click.IntRange(min=0),
    default=None,
    metavar="PLUGIN_ID",
    help="Send --osc-out as Carla's own control messages for Carla's plugin PLUGIN_ID (0: the first), to Carla's OSC UDP port.",
)
@click.option(
    "--knobs", type=click.IntRange(min=2), default=8, show_default=True, help="How many of the best latent dimensions become knobs."
)
@click.option("--dims", type=int, multiple=True, help="Use these latent dimensions as knobs, in order (repeat: --dims 3 --dims 7).")
@latent_range_option("Knobs span -RANGE .. RANGE (the prior's standard deviation is 1).")
@click.option(
    "--presets-dir", type=click.Path(path_type=Path), default=Path("presets"), show_default=True, help="Where the page saves presets."
)
def serve(
    model_path: Path,
    synth_name: str | None,
    plugin: Path | None,
    host: str,
    port: int,
    osc_in: int | None,
    osc_out: str | None,
    carla_plugin: int | None,
    knobs: int,
    dims: tuple[int, ...],
    latent_range: float,
    presets_dir: Path,
) -> None:
    """Play a model live: a page with macro knobs, an XY pad and the sound, plus an OSC bridge.

    The knobs are the latent dimensions that change the sound most and most evenly (the ranking of
    `synthgen macro`). Every move renders the note again and plays it in the page; drop a WAV on the
    page to resynthesize it and steer from there; save and load presets; undo. A MIDI controller
    plugged into the computer running the browser turns the knobs (knob k: CC 21 + k, or "MIDI
    learn") and plays notes.

    OSC in (with --osc-in): /synthgen/latent/<i> <float>, /synthgen/xy <x 0..1> <y 0..1>,
    /synthgen/preset <path>. OSC out (with --osc-out): one bundle of
    /synthgen/param/<name> <host value 0..1> after every change. See docs/realtime.md.

    \b
    Examples:
      synthgen serve
      synthgen serve --port 8001 --osc-in 9000 --osc-out 127.0.0.1:9001
    """
    from synthgen.serve.server import build_instrument, open_port, parse_host_port, run_server

    send_to = None if osc_out is None else parse_host_port(osc_out, "--osc-out")
    if carla_plugin is not None and send_to is None:
        raise SynthgenError("--osc-carla needs --osc-out HOST:PORT (Carla's OSC UDP port)")
    listen = None if osc_in is None else (host, osc_in)
    listening = open_port(host, port)
    click.echo("ranking latent dimensions as knobs ...")
    instrument = build_instrument(model_path, synth_name, plugin, knobs, dims, latent_range, presets_dir, listen, send_to, carla_plugin)
    knob_text = ", ".join(f"{k.dim} ({'/'.join(k.moved[:2])})" for k in instrument.panel.knobs)
    click.echo(f"knobs: latent dimensions {knob_text}")
    if listen is not None:
        click.echo(f"OSC in:  udp://{listen[0]}:{listen[1]}")
    if send_to is not None:
        style = "/synthgen/param/<name>" if carla_plugin is None else f"Carla's /Carla/{carla_plugin}/set_parameter_value"
        click.echo(f"OSC out: udp://{send_to[0]}:{send_to[1]} ({style})")
    run_server(instrument, listening, on_ready=lambda url: click.echo(f"serving {url} (Ctrl-C stops)"))
    click.echo("stopped")
