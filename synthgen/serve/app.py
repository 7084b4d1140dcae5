"""The web side of the instrument: one page, a JSON API, and a websocket for live moves, states and sounds."""

__all__ = ["STATIC_DIR", "create_app"]

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from synthgen.errors import SynthgenError
from synthgen.serve.instrument import Instrument
from synthgen.serve.messages import hello_message, mel_message, sound_frame, state_message
from synthgen.serve.moves import apply_message, merge_moves, parse_message
from synthgen.serve.panel import Panel, PanelState

STATIC_DIR = Path(__file__).resolve().parent / "static"


class _Client:
    """One connected page: the newest state, sound and spectrogram wait here (latest wins); errors queue in order.

    A state becomes a message only when it is sent, so a slow page costs no work for the states it skips.
    """

    def __init__(self, websocket: WebSocket, panel: Panel) -> None:
        self.websocket = websocket
        self.panel = panel
        self.state: PanelState | None = None
        self.sound: bytes | None = None
        self.mel: dict | None = None
        self.notes: list[dict] = []
        self.ready = asyncio.Event()

    def post(self, state: PanelState | None = None, sound: bytes | None = None, mel: dict | None = None, note: dict | None = None) -> None:
        self.state = state or self.state
        self.sound = sound or self.sound
        self.mel = mel or self.mel
        if note is not None:
            self.notes = [*self.notes[-15:], note]
        self.ready.set()

    async def send_forever(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            notes, self.notes = self.notes, []
            state, self.state = self.state, None
            sound, self.sound = self.sound, None
            mel, self.mel = self.mel, None
            for message in [*notes, None if state is None else state_message(self.panel, state)]:
                if message is not None:
                    await self.websocket.send_text(json.dumps(message))
            if sound is not None:
                await self.websocket.send_bytes(sound)
            if mel is not None:
                await self.websocket.send_text(json.dumps(mel))


class _Clients:
    """The connected pages; states and sounds from any thread are handed to them on the server's loop."""

    def __init__(self, instrument: Instrument) -> None:
        self.clients: set[_Client] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        instrument.panel.subscribe(lambda state: self._post_all(state=state))
        instrument.listen(
            lambda sound: self._post_all(sound=sound_frame(sound)),
            lambda version, mel: self._post_all(mel=mel_message(version, mel)),
        )

    def _post_all(self, **message: Any) -> None:
        if self.loop is not None and not self.loop.is_closed():
            for client in list(self.clients):
                self.loop.call_soon_threadsafe(lambda c=client: c.post(**message))


def create_app(instrument: Instrument) -> FastAPI:
    """The ASGI app serving ``instrument``: ``/`` the page, ``/api/...`` JSON, ``/ws`` the live channel."""
    app = FastAPI(title="synthgen serve", docs_url=None, redoc_url=None)
    clients = _Clients(instrument)
    panel = instrument.panel

    @app.exception_handler(SynthgenError)
    async def user_mistake(request: Request, error: SynthgenError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=400)

    def state() -> dict:
        return state_message(panel, panel.state)

    async def body_json(request: Request) -> dict:
        body = parse_message((await request.body()).decode("utf-8", errors="replace"))
        if not isinstance(body, dict):
            raise SynthgenError("the request body must be a JSON object")
        return body

    @app.get("/")
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/api/state")
    async def get_state() -> dict:
        return {**hello_message(panel), **state()}

    @app.post("/api/move")
    async def move(request: Request) -> dict:
        apply_message(panel, await body_json(request))
        return state()

    @app.post("/api/presets")
    async def save_preset(request: Request) -> dict:
        paths = await run_in_threadpool(instrument.save_preset, (await body_json(request)).get("name"))
        return {"files": [str(p) for p in paths]}

    @app.post("/api/presets/load")
    async def load_preset(request: Request) -> dict:
        name = request.headers.get("x-filename", "preset.json")
        await run_in_threadpool(instrument.load_preset, await request.body(), name)
        return state()

    @app.post("/api/resynth")
    async def post_resynth(request: Request) -> dict:
        name = request.headers.get("x-filename", "sound.wav")
        _, changes = await run_in_threadpool(instrument.resynthesize, await request.body(), name)
        return {**state(), "changes": changes}

    @app.get("/api/sound.wav")
    async def latest_sound() -> Response:
        sound = instrument.latest_sound
        if sound is None:
            raise SynthgenError("no sound rendered yet")
        return Response(sound.wav, media_type="audio/wav", headers={"x-version": str(sound.version)})

    @app.websocket("/ws")
    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        clients.loop = asyncio.get_running_loop()
        client = _Client(websocket, panel)
        clients.clients.add(client)
        sound, mel = instrument.latest_sound, instrument.latest_mel
        client.post(
            note=hello_message(panel),
            state=panel.state,
            sound=None if sound is None else sound_frame(sound),
            mel=None if mel is None else mel_message(*mel),
        )
        inbox: list[Any] = []
        arrived = asyncio.Event()

        async def apply_forever() -> None:
            # Moves that came in while the last ones were applied are merged: a busy server catches up.
            while True:
                await arrived.wait()
                arrived.clear()
                batch = inbox.copy()
                inbox.clear()
                for message in merge_moves(batch):
                    try:
                        apply_message(panel, message)
                    except SynthgenError as e:
                        client.post(note={"type": "error", "message": str(e)})

        tasks = [asyncio.create_task(client.send_forever()), asyncio.create_task(apply_forever())]
        try:
            while True:
                received = await websocket.receive()
                if received["type"] == "websocket.disconnect":
                    break
                try:
                    inbox.append(parse_message(received.get("text")))
                    arrived.set()
                except SynthgenError as e:
                    client.post(note={"type": "error", "message": str(e)})
        except WebSocketDisconnect:
            pass
        finally:
            clients.clients.discard(client)
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
