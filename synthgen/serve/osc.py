"""The OSC bridge: latent moves, XY and presets in; the parameters, as one bundle, out after every change."""

__all__ = ["OscBridge", "carla_bundle", "osc_address", "param_bundle"]

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_server import BlockingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from synthgen.errors import SynthgenError
from synthgen.serve.panel import Panel, PanelState
from synthgen.serve.readout import host_ranges, host_values
from synthgen.synths.base import Synth

_log = logging.getLogger("synthgen.serve")
# Characters OSC forbids in an address part.
_NOT_IN_ADDRESS = re.compile(r"[\s#*,/?\[\]{}]")


def osc_address(name: str) -> str:
    """The address a parameter is sent to: ``/synthgen/param/<name>``, characters OSC forbids as ``_``."""
    return f"/synthgen/param/{_NOT_IN_ADDRESS.sub('_', name)}"


def param_bundle(values: Mapping[str, float]) -> OscBundle:
    """One bundle (to run at once) of ``/synthgen/param/<name> <float>`` messages."""
    bundle = OscBundleBuilder(IMMEDIATELY)
    for name, value in values.items():
        message = OscMessageBuilder(osc_address(name))
        message.add_arg(float(value), OscMessageBuilder.ARG_TYPE_FLOAT)
        bundle.add_content(message.build())
    return bundle.build()


def carla_bundle(values: Mapping[str, float], synth: Synth, plugin_id: int, client: str = "Carla") -> OscBundle:
    """The same values as Carla's own OSC control messages: ``/<client>/<plugin_id>/set_parameter_value <index> <value>``.

    ``synth`` is the plugin Carla hosts (its parameter indices); values are host values 0..1, the
    range Carla gives a VST2 plugin's parameters.
    """
    index_of = getattr(synth, "index_of", None)
    if index_of is None:
        raise SynthgenError("OSC for Carla needs a plugin synth (Carla hosts plugins, not synthgen's Faust voice)")
    bundle = OscBundleBuilder(IMMEDIATELY)
    for name, value in values.items():
        message = OscMessageBuilder(f"/{client}/{plugin_id}/set_parameter_value")
        message.add_arg(index_of(name), OscMessageBuilder.ARG_TYPE_INT)
        message.add_arg(float(value), OscMessageBuilder.ARG_TYPE_FLOAT)
        bundle.add_content(message.build())
    return bundle.build()


def _message(address: str, *args: Any) -> bytes:
    message = OscMessageBuilder(address)
    for arg in args:
        message.add_arg(arg)
    return message.build().dgram


class OscBridge:
    """Steer a panel over OSC (UDP) and send its parameters to a host.

    In: ``/synthgen/latent/<i> <float>`` (latent units, within the panel's range),
    ``/synthgen/xy <x> <y>`` (0..1 each: the first two knobs), ``/synthgen/preset <path>`` (a
    synthgen JSON preset). A bad message is logged and answered to its sender as
    ``/synthgen/error <text>``; the bridge keeps running.

    Out (to ``send_to``, when given): after every change of the preset, one bundle of
    ``/synthgen/param/<name> <host value 0..1>`` (or, with ``carla_plugin``, Carla's own messages).

    Arguments:
        panel: the panel to steer.
        synth: the model's synth (its parameter ranges give host values).
        listen: ``(host, port)`` to receive on, or ``None`` for no input.
        send_to: ``(host, port)`` to send parameters to, or ``None``.
        carla_plugin: send Carla's ``set_parameter_value`` messages for the plugin of this id instead.
    """

    def __init__(
        self,
        panel: Panel,
        synth: Synth,
        listen: tuple[str, int] | None,
        send_to: tuple[str, int] | None,
        carla_plugin: int | None = None,
    ) -> None:
        self.panel = panel
        self._synth = synth
        # Read once: the synth may be busy in another thread later (resynthesis, preset files).
        self._ranges = host_ranges(synth)
        self._carla_plugin = carla_plugin
        if carla_plugin is not None:
            carla_bundle({}, synth, carla_plugin)  # refuse a synth Carla cannot host, before serving
        self._send_to = send_to
        self._client = SimpleUDPClient(*send_to) if send_to else None
        self._last_sent: np.ndarray | None = None
        self._server: BlockingOSCUDPServer | None = None
        self._thread: threading.Thread | None = None
        if self._client is not None:
            panel.subscribe(self._send_parameters)
        if listen is not None:
            dispatcher = Dispatcher()
            dispatcher.map("/synthgen/latent/*", self._guarded(self._on_latent), needs_reply_address=True)
            dispatcher.map("/synthgen/xy", self._guarded(self._on_xy), needs_reply_address=True)
            dispatcher.map("/synthgen/preset", self._guarded(self._on_preset), needs_reply_address=True)
            dispatcher.set_default_handler(self._guarded(self._on_unknown), needs_reply_address=True)
            try:
                self._server = BlockingOSCUDPServer(listen, dispatcher)
            except OSError as e:
                raise SynthgenError(
                    f"cannot listen for OSC on {listen[0]}:{listen[1]} ({e.strerror}): choose another --osc-in port"
                ) from None
            self._thread = threading.Thread(target=self._server.serve_forever, name="synthgen-osc", daemon=True)
            self._thread.start()

    @property
    def address(self) -> tuple[str, int] | None:
        """Where the bridge listens (the port chosen when 0 was asked for)."""
        return None if self._server is None else self._server.server_address[:2]

    def close(self) -> None:
        """Stop listening and wait for the listening thread."""
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def _send_parameters(self, state: PanelState) -> None:
        if self._last_sent is not None and np.array_equal(self._last_sent, state.unit):
            return
        self._last_sent = state.unit
        values = host_values(self._ranges, self.panel.model.config, state.unit)
        bundle = param_bundle(values) if self._carla_plugin is None else carla_bundle(values, self._synth, self._carla_plugin)
        try:
            self._client.send(bundle)
        except OSError as e:  # the host is away: the panel goes on
            _log.warning("cannot send OSC to %s:%d: %s", *self._send_to, e)

    def _guarded(self, handle: Any) -> Any:
        """Wrap a handler: a user mistake or a failure is logged and answered, never raised."""

        def handler(client: tuple[str, int], address: str, *args: Any) -> None:
            try:
                handle(address, *args)
            except SynthgenError as e:
                self._answer(client, f"{address}: {e}")
            except Exception as e:  # keep serving whatever a message does
                _log.exception("OSC %s failed", address)
                self._answer(client, f"{address}: {type(e).__name__}: {e}")

        return handler

    def _answer(self, client: tuple[str, int], text: str) -> None:
        _log.warning("OSC message refused: %s", text)
        if self._server is not None:
            self._server.socket.sendto(_message("/synthgen/error", text), client)

    @staticmethod
    def _numbers(address: str, args: tuple, count: int) -> list[float]:
        if len(args) != count or any(isinstance(a, bool) or not isinstance(a, (int, float)) for a in args):
            raise SynthgenError(f"expects {count} number{'s' if count > 1 else ''}, got {list(args)!r}")
        return [float(a) for a in args]

    def _on_latent(self, address: str, *args: Any) -> None:
        dim = address.rsplit("/", 1)[-1]
        if not dim.isdigit():
            raise SynthgenError(f"the latent dimension must be a number: /synthgen/latent/<i>, got '{dim}'")
        (value,) = self._numbers(address, args, 1)
        self.panel.set_latent({int(dim): value}, source="osc")

    def _on_xy(self, address: str, *args: Any) -> None:
        x, y = self._numbers(address, args, 2)
        self.panel.set_xy(x, y, source="osc")

    def _on_preset(self, address: str, *args: Any) -> None:
        if len(args) != 1 or not isinstance(args[0], str):
            raise SynthgenError(f"expects one string (a preset path), got {list(args)!r}")
        self.panel.load(args[0])

    def _on_unknown(self, address: str, *args: Any) -> None:
        raise SynthgenError("unknown address: use /synthgen/latent/<i>, /synthgen/xy or /synthgen/preset")
