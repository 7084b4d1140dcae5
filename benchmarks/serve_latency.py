"""Real-time control latency of ``synthgen serve``: knob move -> new audio playable, OSC in -> OSC out, memory over many moves.

Runs the real command in a child process on 127.0.0.1 and plays the page's part over its websocket:
each move is a numbered ``latent`` message; a move's sound counts as playable once the first frame
including the move has arrived and its WAV is decoded. Two ways of moving: one move at a time (the
next once the sound is there), and dragging (60 moves a second, as a page sends while a knob turns).

Targets: knob move -> new audio p50 <= 150 ms and p95 <= 300 ms over 200 moves; OSC in -> OSC out
p95 <= 20 ms; resident memory flat over 10,000 moves (growth from move 1,000 to 10,000 <= 10 MB).

Usage: python -m benchmarks.serve_latency [--model models/builtin_vae_flow_post] [--moves 200] [--memory-moves 10000]
"""

import argparse
import io
import json
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from pythonosc.osc_bundle import OscBundle
from pythonosc.udp_client import SimpleUDPClient
from websockets.sync.client import connect

from benchmarks.common import report


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (the render process, its fork server) in MB."""
    total = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1]) / 1024
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += rss_mb(int(child))
    return total


class Page:
    """The page's side of the websocket: sends numbered moves, and notes when each playable sound arrived.

    The server echoes the number of the last move a sound includes (moves that arrive together are merged).
    """

    def __init__(self, url: str) -> None:
        self.ws = connect(url, max_size=None)
        self.hello = json.loads(self.ws.recv())
        self.dims = [k["dim"] for k in self.hello["knobs"]]
        self.move_id = 0
        self.heard_id = -1
        self.arrivals: list[tuple[int, float]] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            for message in self.ws:
                if isinstance(message, str):
                    continue
                (length,) = struct.unpack("<I", message[:4])
                move_id = json.loads(message[4 : 4 + length])["move_id"]
                sf.read(io.BytesIO(message[4 + length :]), dtype="float32")  # playable: the WAV decodes
                if move_id is None:
                    continue
                with self.changed:
                    self.heard_id = move_id
                    self.arrivals.append((move_id, time.perf_counter()))
                    self.changed.notify_all()
        except Exception:  # the connection closes at the end
            return

    def move(self, rng: np.random.Generator) -> tuple[int, float]:
        """Move a random knob to a random value; returns the move's number and when it was sent."""
        self.move_id += 1
        sent = time.perf_counter()
        message = {"type": "latent", "values": {str(rng.choice(self.dims)): float(rng.uniform(-3, 3))}, "id": self.move_id}
        self.ws.send(json.dumps(message))
        return self.move_id, sent

    def wait_for(self, move_id: int, timeout_s: float = 30.0) -> float:
        """When the first sound including move ``move_id`` arrived (waiting for it)."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.heard_id >= move_id, timeout_s):
                raise TimeoutError(f"no sound of move {move_id}")
            return next(t for heard, t in self.arrivals if heard >= move_id)


def percentiles(ms: list[float]) -> dict[str, float]:
    return {"n": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "max_ms": float(np.max(ms))}


def knob_latency(page: Page, moves: int, interval_s: float, rng: np.random.Generator) -> list[float]:
    """Moves ``interval_s`` apart (0: each after the previous sound); ms from each move to the first sound including it."""
    sent = []
    for _ in range(moves):
        sent.append(page.move(rng))
        if interval_s == 0:
            page.wait_for(page.move_id)
        else:
            time.sleep(max(0.0, sent[-1][1] + interval_s - time.perf_counter()))
    return [1000 * (page.wait_for(move_id) - t) for move_id, t in sent]


def drain(sock: socket.socket) -> None:
    """Read and drop whatever waits on a UDP socket."""
    sock.settimeout(0.2)
    try:
        while True:
            sock.recv(65536)
    except TimeoutError:
        sock.settimeout(10)


def osc_latency(osc_in: int, host: socket.socket, dims: list[int], repeats: int, rng: np.random.Generator) -> list[float]:
    """ms from an OSC latent move to the parameter bundle arriving."""
    controller = SimpleUDPClient("127.0.0.1", osc_in)
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        controller.send_message(f"/synthgen/latent/{rng.choice(dims)}", float(rng.uniform(-3, 3)))
        OscBundle(host.recv(65536))
        out.append(1000 * (time.perf_counter() - start))
    return out


def memory_over_moves(page: Page, pid: int, moves: int, rng: np.random.Generator) -> list[tuple[int, float]]:
    """RSS (MB) of the server every 1,000 moves sent as fast as the socket takes them."""
    samples = []
    for k in range(1, moves + 1):
        page.move(rng)
        if k % 1000 == 0:
            page.wait_for(page.move_id, timeout_s=120)
            samples.append((k, rss_mb(pid)))
    return samples


def main() -> None:
    from synthgen.model import DEFAULT_MODEL

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL.parent)
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--memory-moves", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "serve_latency.json")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    port, osc_in = free_port(), free_port(socket.SOCK_DGRAM)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as host, tempfile.TemporaryDirectory() as presets_dir:
        host.bind(("127.0.0.1", 0))
        host.settimeout(10)
        command = [sys.executable, "-m", "synthgen", "serve", "--model", str(args.model), "--port", str(port), "--osc-in", str(osc_in)]
        command += ["--osc-out", f"127.0.0.1:{host.getsockname()[1]}", "--presets-dir", presets_dir]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            for line in server.stdout:
                print(line.rstrip())
                if line.startswith("serving"):
                    break
            page = Page(f"ws://127.0.0.1:{port}/ws")
            rows = []
            one_by_one = percentiles(knob_latency(page, args.moves, 0.0, rng))
            rows.append({"what": "knob move -> new audio (one move at a time)", **one_by_one, "target": "p50<=150, p95<=300"})
            drag = percentiles(knob_latency(page, args.moves, 1 / 60, rng))
            rows.append({"what": "knob move -> new audio (dragging, 60 moves/s)", **drag, "target": "p50<=150, p95<=300"})
            drain(host)  # the bundles of the knob moves above
            osc = percentiles(osc_latency(osc_in, host, page.dims, args.moves, rng))
            rows.append({"what": "OSC in -> OSC out", **osc, "target": "p95<=20"})
            memory = memory_over_moves(page, server.pid, args.memory_moves, rng)
            growth = memory[-1][1] - memory[0][1]
            rows.append(
                {
                    "what": f"RSS of the server and its render process over {args.memory_moves} moves",
                    "rss_at_1000_mb": memory[0][1],
                    "rss_at_end_mb": memory[-1][1],
                    "growth_mb": growth,
                    "target": "growth<=10 MB",
                }
            )
            page.ws.close()
        finally:
            server.terminate()
            server.wait(30)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report("serve_latency", rows, args.out)
    met = {
        "knob p50 (one at a time)": one_by_one["p50_ms"] <= 150,
        "knob p95 (one at a time)": one_by_one["p95_ms"] <= 300,
        "knob p50 (dragging)": drag["p50_ms"] <= 150,
        "knob p95 (dragging)": drag["p95_ms"] <= 300,
        "OSC p95": osc["p95_ms"] <= 20,
        "memory flat": growth <= 10,
    }
    for name, ok in met.items():
        print(f"{'met   ' if ok else 'MISSED'} {name}")
    print("memory (moves, RSS MB):", ", ".join(f"{k}: {mb:.0f}" for k, mb in memory))


if __name__ == "__main__":
    main()
