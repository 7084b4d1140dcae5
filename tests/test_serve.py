"""synthgen serve: the panel's state, the JSON/websocket API through the ASGI test client, and the OSC bridge."""

import io
import json
import socket
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="synthgen serve needs the [serve] extra")

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import SimpleUDPClient

from synthgen.errors import SynthgenError
from synthgen.presets.json_preset import read_preset, write_preset
from synthgen.serve import Panel, build_instrument, create_app
from synthgen.serve.app import STATIC_DIR
from synthgen.serve.moves import merge_moves
from synthgen.serve.osc import carla_bundle
from synthgen.serve.readout import host_ranges, host_values, read_parameters
from synthgen.synths.loading import load_synth
from synthgen.synths.rendering import render_unit

from .conftest import requires_amsynth
from .serve_helpers import free_port, wait_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def parse_sound(frame: bytes) -> tuple[dict, np.ndarray, int]:
    """A binary sound frame -> header, audio, sample rate."""
    (length,) = struct.unpack("<I", frame[:4])
    header = json.loads(frame[4 : 4 + length])
    audio, rate = sf.read(io.BytesIO(frame[4 + length :]), dtype="float32")
    return header, audio, rate


def greeting(ws) -> tuple[dict, dict, bytes, dict]:
    """What a page receives on connecting: hello, the state, the current sound, then its spectrogram."""
    return ws.receive_json(), ws.receive_json(), ws.receive_bytes(), ws.receive_json()


# ---- the panel ----


def test_knobs_move_the_preset_and_bad_moves_change_nothing(serve_model, serve_knobs) -> None:
    panel = Panel(serve_model, serve_knobs)
    seen = []
    panel.subscribe(seen.append)
    dim = serve_knobs[0].dim
    start = panel.state
    moved = panel.set_latent({dim: 2.5})
    assert moved.version == start.version + 1 and seen == [moved]
    assert moved.z[dim] == pytest.approx(2.5) and np.abs(moved.unit - start.unit).max() > 0.01
    for bad in ({dim: 3.5}, {dim: float("nan")}, {dim: "1"}, {99: 0.0}, {-1: 0.0}):
        with pytest.raises(SynthgenError):
            panel.set_latent(bad)
    assert panel.state is moved and len(seen) == 1


def test_xy_spans_the_first_two_knobs(serve_model, serve_knobs) -> None:
    panel = Panel(serve_model, serve_knobs, latent_range=2.0)
    state = panel.set_xy(1.0, 0.25)
    assert state.z[serve_knobs[0].dim] == pytest.approx(2.0)
    assert state.z[serve_knobs[1].dim] == pytest.approx(-1.0)
    with pytest.raises(SynthgenError, match="out of range"):
        panel.set_xy(1.2, 0.5)


def test_undo_goes_back_one_gesture(serve_model, serve_knobs) -> None:
    clock = FakeClock()
    panel = Panel(serve_model, serve_knobs, gesture_gap_s=0.5, clock=clock)
    dim = serve_knobs[0].dim
    first = panel.set_latent({dim: 1.0})
    for value in (1.2, 1.4, 1.6):  # one drag: moves close together
        clock.now += 0.05
        panel.set_latent({dim: value})
    clock.now += 2.0
    panel.set_latent({dim: -2.0})  # a new gesture
    assert panel.history_size == 2  # the start, and the end of the drag
    back = panel.undo()
    assert back.z[dim] == pytest.approx(1.6) and back.source == "undo"
    assert np.allclose(panel.undo().unit, Panel(serve_model, serve_knobs).state.unit, atol=1e-5)
    with pytest.raises(SynthgenError, match="nothing to undo"):
        panel.undo()
    assert first.version < back.version


def test_note_changes_are_checked(serve_model, serve_knobs) -> None:
    panel = Panel(serve_model, serve_knobs)
    state = panel.set_note(48, 90)
    assert (state.midi_pitch, state.velocity) == (48, 90) and np.array_equal(state.unit, panel.undo().unit)
    for bad in ((128, 90), (60, 0), (60.5, 90)):
        with pytest.raises(SynthgenError, match="whole number"):
            panel.set_note(*bad)


def test_preset_enters_through_the_flow_inverse(serve_model, serve_knobs, tmp_path: Path) -> None:
    config = serve_model.config
    unit = config.space.sample(1, np.random.default_rng(3))[0]
    path = write_preset(tmp_path / "p.json", config, unit, note=config.render.note(48, 100), output_gain_db=-12.5)
    panel = Panel(serve_model, serve_knobs)
    state = panel.load(path)
    assert state.source == "preset p.json" and np.isfinite(state.z).all()
    assert np.allclose(state.unit, read_preset(path, config), atol=1e-5)
    # The latent point maps back near the preset (the flow's round trip is approximate at the range's ends).
    assert np.abs(serve_model.params_from_latent(state.z[None])[0] - state.unit).mean() < 0.1
    # it plays as saved: at its own note and output gain, kept by later moves, until undone
    assert (state.midi_pitch, state.velocity, state.gain_db) == (48, 100, -12.5)
    moved = panel.set_latent({serve_knobs[0].dim: 1.0})
    assert (moved.midi_pitch, moved.gain_db) == (48, -12.5)
    panel.undo()
    back = panel.undo()
    assert (back.midi_pitch, back.gain_db, back.source) == (config.render.midi_pitch, 0.0, "undo")


def test_readout_has_real_units(serve_model) -> None:
    config = serve_model.config
    unit = np.full(config.space.size, 0.5)
    readings = {r.name: r for r in read_parameters(config, unit)}
    assert readings["amp_attack_s"].unit == "s" and readings["amp_attack_s"].text.endswith(" s")
    assert readings["lfo_rate_hz"].text.endswith(" Hz")
    assert readings["cutoff"].value == pytest.approx(80.0) and "(831 Hz)" in readings["cutoff"].text
    host = host_values(host_ranges(load_synth(config)), config, unit)
    # cutoff 80 on a slider from 20 to 135
    assert host["cutoff"] == pytest.approx(60 / 115, abs=1e-4)
    assert all(0.0 <= v <= 1.0 for v in host.values())


# ---- the web API ----


def test_page_and_assets_are_local(make_instrument) -> None:
    with TestClient(create_app(make_instrument())) as client:
        page = client.get("/")
        assert page.status_code == 200 and "/static/panel.js" in page.text
        for asset in ("panel.js", "panel.css"):
            assert client.get(f"/static/{asset}").status_code == 200
    for path in STATIC_DIR.iterdir():
        assert "http://" not in path.read_text() and "https://" not in path.read_text(), f"{path.name} loads from the network"


def test_websocket_move_brings_state_and_new_sound(make_instrument, serve_knobs, serve_model) -> None:
    instrument = make_instrument()
    dim = serve_knobs[0].dim
    with TestClient(create_app(instrument)) as client, client.websocket_connect("/ws") as ws:
        hello, first, frame, mel = greeting(ws)
        assert hello["type"] == "hello" and [k["dim"] for k in hello["knobs"]] == [k.dim for k in serve_knobs]
        assert first["type"] == "state" and len(first["parameters"]) == serve_model.config.space.size
        header, before, rate = parse_sound(frame)
        assert rate == serve_model.config.render.sample_rate and len(before) == 4 * rate
        assert mel["type"] == "spectrogram" and mel["version"] == header["version"]
        assert (mel["n_mels"], mel["n_frames"]) == (64, 80) and len(mel["levels"]) == 64 * 80 and max(mel["levels"]) == 255
        ws.send_json({"type": "latent", "values": {str(dim): 2.0}, "id": 7})
        state = ws.receive_json()
        assert state["source"] == "knob" and state["z"][dim] == pytest.approx(2.0) and state["move_id"] == 7
        changed = [a["text"] != b["text"] for a, b in zip(first["parameters"], state["parameters"], strict=True)]
        assert any(changed)
        header, after, _ = parse_sound(ws.receive_bytes())
        assert header["version"] == state["version"] and header["move_id"] == 7
        assert np.abs(after - before).max() > 1e-3
        assert ws.receive_json()["version"] == state["version"]


def test_bad_messages_are_answered_and_the_server_goes_on(make_instrument, serve_knobs) -> None:
    dim = serve_knobs[0].dim
    with TestClient(create_app(make_instrument())) as client, client.websocket_connect("/ws") as ws:
        greeting(ws)
        for bad, answer in (
            ("not json", "must be JSON"),
            (json.dumps([1, 2]), "JSON object"),
            (json.dumps({"type": "fly"}), "unknown message type"),
            (json.dumps({"type": "latent", "values": {str(dim): 7}}), "out of range"),
            (json.dumps({"type": "latent", "values": {"x": 1}}), "not a whole number"),
            (json.dumps({"type": "xy", "x": "left", "y": 0}), "finite number"),
            (json.dumps({"type": "xy", "x": 0, "y": 0, "id": "first"}), "'id' must be a whole number"),
        ):
            ws.send_text(bad)
            message = ws.receive_json()
            assert message["type"] == "error" and answer in message["message"]
        ws.send_bytes(b"\x00\x01")
        assert "binary" in ws.receive_json()["message"]
        ws.send_json({"type": "latent", "values": {str(dim): -1.0}})
        assert ws.receive_json()["z"][dim] == pytest.approx(-1.0)
        response = client.post("/api/move", content=b"{")
        assert response.status_code == 400 and "JSON" in response.json()["error"]


def test_moves_arriving_together_merge_in_order() -> None:
    moves = [
        {"type": "latent", "values": {"3": 1.0, "5": 0.5}, "id": 1},
        {"type": "latent", "values": {"3": 2.0}, "id": 2},
        {"type": "undo"},
        {"type": "xy", "x": 0.1, "y": 0.2, "id": 3},
        {"type": "xy", "x": 0.3, "y": 0.4, "id": 4},
        {"type": "latent", "values": {"3": -1.0}, "id": 5},
    ]
    assert merge_moves(moves) == [
        {"type": "latent", "values": {"3": 2.0, "5": 0.5}, "id": 2},
        {"type": "undo"},
        {"type": "xy", "x": 0.3, "y": 0.4, "id": 4},
        {"type": "latent", "values": {"3": -1.0}, "id": 5},
    ]
    assert merge_moves(["junk", "junk"]) == ["junk", "junk"]


def test_quick_moves_coalesce(make_instrument, serve_knobs) -> None:
    instrument = make_instrument()
    wait_for(lambda: instrument.latest_sound is not None)
    dim = serve_knobs[0].dim
    for value in np.linspace(-2.0, 2.0, 100):
        instrument.panel.set_latent({dim: float(value)})
    wait_for(lambda: instrument.latest_sound.version == instrument.panel.state.version)
    assert instrument.worker.renders < 100


def test_save_and_load_presets(make_instrument, serve_knobs, serve_model, tmp_path: Path) -> None:
    instrument = make_instrument()
    start = instrument.panel.state
    instrument.panel.jump(start.z, start.unit, "a resynthesis", gain_db=-7.5)  # as a dropped sound leaves it
    with TestClient(create_app(instrument)) as client:
        client.post("/api/move", json={"type": "xy", "x": 0.8, "y": 0.3}).raise_for_status()
        saved = client.post("/api/presets", json={"name": "bright one"}).json()["files"]
        path = Path(saved[0])
        assert path == tmp_path / "presets" / "bright one.json"
        document = json.loads(path.read_text())
        assert document["output_gain_db"] == pytest.approx(-7.5)
        assert np.allclose(document["extra"]["latent"], instrument.panel.state.z, atol=1e-6)
        assert np.allclose(read_preset(path, serve_model.config), instrument.panel.state.unit, atol=1e-4)
        assert client.post("/api/presets", json={"name": "../escape"}).status_code == 400
        client.post("/api/move", json={"type": "latent", "values": {str(serve_knobs[2].dim): -2.5}}).raise_for_status()
        loaded = client.post("/api/presets/load", content=path.read_bytes(), headers={"x-filename": path.name}).json()
        assert loaded["source"] == "preset bright one.json"
        assert np.allclose([p["unit_value"] for p in loaded["parameters"]], document_units(document, serve_model), atol=1e-4)
        wrong = client.post("/api/presets/load", content=b'{"format": "other"}')
        assert wrong.status_code == 400 and "not a synthgen preset" in wrong.json()["error"]


def document_units(document: dict, model) -> np.ndarray:
    raw = np.array([[document["parameters"][name] for name in model.config.space.names]])
    return model.config.space.to_unit(raw)[0]


def test_dropped_wav_is_resynthesized(make_instrument, serve_model, tmp_path: Path) -> None:
    config = serve_model.config
    unit = config.space.sample(1, np.random.default_rng(11))
    buffer = io.BytesIO()
    sf.write(buffer, render_unit(load_synth(config), config, unit)[0], config.render.sample_rate, format="WAV")
    with TestClient(create_app(make_instrument())) as client:
        answer = client.post("/api/resynth", content=buffer.getvalue(), headers={"x-filename": "target.wav"}).json()
        assert answer["source"] == "resynthesis target.wav" and np.isfinite(answer["z"]).all()
        assert answer["changes"] == [] and -20.0 < answer["gain_db"] < 6.0  # the fitted gain of a sound of its own synth
        bad = client.post("/api/resynth", content=b"RIFF nonsense", headers={"x-filename": "broken.wav"})
        assert bad.status_code == 400 and bad.json()["error"].startswith("broken.wav ")


# ---- OSC ----


def receive_params(sock: socket.socket) -> dict[str, float]:
    """One bundle of /synthgen/param/<name> messages from the bridge."""
    bundle = OscBundle(sock.recv(65536))
    values = {}
    for message in bundle:
        assert isinstance(message, OscMessage) and message.address.startswith("/synthgen/param/")
        values[message.address.removeprefix("/synthgen/param/")] = message.params[0]
    return values


def test_osc_round_trip(make_instrument, serve_knobs, serve_model, tmp_path: Path) -> None:
    config = serve_model.config
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as host:
        host.bind(("127.0.0.1", 0))
        host.settimeout(10)
        instrument = make_instrument(osc_listen=("127.0.0.1", 0), osc_send_to=host.getsockname())
        controller = SimpleUDPClient(*instrument.osc.address)
        dim = serve_knobs[1].dim
        controller.send_message(f"/synthgen/latent/{dim}", 1.5)
        values = receive_params(host)
        assert instrument.panel.state.z[dim] == pytest.approx(1.5) and instrument.panel.state.source == "osc"
        assert list(values) == config.space.names
        expected = host_values(host_ranges(instrument.synth), config, instrument.panel.state.unit)
        assert np.allclose(list(values.values()), list(expected.values()), atol=1e-6)
        controller.send_message("/synthgen/xy", [0.1, 0.9])
        assert receive_params(host) != values
        assert instrument.panel.state.z[serve_knobs[0].dim] == pytest.approx(-2.4)
        preset = write_preset(tmp_path / "osc.json", config, config.space.sample(1, np.random.default_rng(2))[0])
        controller.send_message("/synthgen/preset", str(preset))
        receive_params(host)
        assert instrument.panel.state.source == "preset osc.json"

        for address, args, answer in (
            (f"/synthgen/latent/{dim}", "loud", "expects 1 number"),
            ("/synthgen/latent/99", 0.5, "does not exist"),
            (f"/synthgen/latent/{dim}", 9.0, "out of range"),
            ("/synthgen/xy", 0.5, "expects 2 numbers"),
            ("/synthgen/preset", "/nowhere/p.json", "/nowhere/p.json"),
            ("/synthgen/teleport", 1, "unknown address"),
        ):
            controller.send_message(address, args)
            reply = OscMessage(controller.receive(10))
            assert reply.address == "/synthgen/error" and answer in reply.params[0], reply.params
        controller.send_message(f"/synthgen/latent/{dim}", -0.5)
        receive_params(host)
        assert instrument.panel.state.z[dim] == pytest.approx(-0.5)


def test_taken_ports_get_one_clear_line(serve_model, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from synthgen.cli import main

    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = CliRunner().invoke(main, ["serve", "--port", str(port), "--dims", "0", "--dims", "1", "--presets-dir", str(tmp_path)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"cannot serve on 127.0.0.1:{port}" in result.output and "choose another --port" in result.output
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        osc_port = taken.getsockname()[1]
        with pytest.raises(SynthgenError, match="choose another --osc-in port"):
            build_instrument(serve_model.path, dims=(0, 1), presets_dir=tmp_path, osc_listen=("127.0.0.1", osc_port))
    result = CliRunner().invoke(main, ["serve", "--osc-out", "somewhere"])
    assert result.exit_code != 0 and "--osc-out must be host:port" in result.output


@requires_amsynth
def test_carla_messages_name_the_plugins_parameter_indices(amsynth_config) -> None:
    synth = load_synth(amsynth_config)
    names = amsynth_config.space.names[:3]
    bundle = carla_bundle(dict(zip(names, (0.25, 0.5, 1.0), strict=True)), synth, plugin_id=2)
    messages = list(bundle)
    assert [m.address for m in messages] == ["/Carla/2/set_parameter_value"] * 3
    assert [m.params for m in messages] == [[synth.index_of(n), v] for n, v in zip(names, (0.25, 0.5, 1.0), strict=True)]


def test_carla_output_needs_a_plugin(make_instrument) -> None:
    with pytest.raises(SynthgenError, match="needs a plugin synth"):
        make_instrument(osc_send_to=("127.0.0.1", free_port()), carla_plugin=0)


def test_the_command_serves_until_ctrl_c(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import urllib.request

    port = free_port()
    command = [sys.executable, "-m", "synthgen", "serve", "--port", str(port), "--dims", "19", "--dims", "20"]
    server = subprocess.Popen([*command, "--presets-dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in server.stdout:
            if line.startswith("serving"):
                break
        assert line.strip() == f"serving http://127.0.0.1:{port}/ (Ctrl-C stops)"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state", timeout=10) as response:
            assert [k["dim"] for k in json.load(response)["knobs"]] == [19, 20]
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0 and out.strip() == "stopped"
    assert "Traceback" not in err, err
