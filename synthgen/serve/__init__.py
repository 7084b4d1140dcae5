"""Real-time control without a DAW: a browser instrument panel and an OSC bridge over a model's latent knobs."""

__all__ = [
    "Instrument",
    "Knob",
    "OscBridge",
    "Panel",
    "PanelState",
    "build_instrument",
    "choose_knobs",
    "create_app",
    "open_port",
    "run_server",
]

from synthgen.serve.app import create_app
from synthgen.serve.instrument import Instrument
from synthgen.serve.knobs import Knob, choose_knobs
from synthgen.serve.osc import OscBridge
from synthgen.serve.panel import Panel, PanelState
from synthgen.serve.server import build_instrument, open_port, run_server
