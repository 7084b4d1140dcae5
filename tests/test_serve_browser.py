"""The served page in a real browser (Debian's headless Chromium): drag a knob, hear a new sound, read new values."""

import shutil
from pathlib import Path

import pytest

from .serve_helpers import start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: how long the page may take to show a sound or state: generous, for a machine busy with other work
BROWSER_WAIT_MS = 60_000

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian package chromium is not installed")


def test_dragging_a_knob_plays_a_new_sound_and_updates_the_readout(make_instrument, tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    instrument = make_instrument()
    url, stop = start_server(instrument)
    try:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--autoplay-policy=no-user-gesture-required"])
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            # The first sound arrives, is decoded as audio, and its spectrogram is drawn.
            page.wait_for_function("Number(document.body.dataset.sounds) >= 1", timeout=BROWSER_WAIT_MS)
            first_version = int(page.evaluate("document.body.dataset.soundVersion"))
            readout = page.locator("#params").inner_text()
            assert "amp_attack_s" in readout and " s" in readout

            knob = page.locator(".knob").first
            box = knob.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 3
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x, y - 90, steps=12)
            page.mouse.up()

            page.wait_for_function(f"Number(document.body.dataset.soundVersion) > {first_version}", timeout=BROWSER_WAIT_MS)
            page.wait_for_function(
                "Number(document.body.dataset.soundVersion) === Number(document.body.dataset.stateVersion)", timeout=BROWSER_WAIT_MS
            )
            # The spectrogram of the last sound follows it.
            page.wait_for_function(
                "Number(document.body.dataset.spectrogramVersion) === Number(document.body.dataset.soundVersion)", timeout=BROWSER_WAIT_MS
            )
            assert page.locator("#params").inner_text() != readout
            assert page.locator("#params tr.changed").count() > 0
            assert float(page.locator(".knob .value").first.inner_text()) > 0.5
            assert instrument.panel.state.source == "knob"
            assert int(page.evaluate("document.body.dataset.sounds")) >= 2
            page.screenshot(path=str(tmp_path / "serve_page.png"), full_page=True)
            browser.close()
        assert not errors, errors
        assert (tmp_path / "serve_page.png").stat().st_size > 10_000
    finally:
        stop()


def test_a_midi_controller_turns_the_knobs_and_plays_notes(make_instrument) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    instrument = make_instrument()
    url, stop = start_server(instrument)

    def midi_then_new_state(page, data: str) -> None:
        version = int(page.evaluate("document.body.dataset.stateVersion"))
        page.evaluate(f"synthgenMidi({data})")
        page.wait_for_function(f"Number(document.body.dataset.stateVersion) > {version}", timeout=BROWSER_WAIT_MS)

    try:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            page.wait_for_function("Number(document.body.dataset.sounds) >= 1", timeout=BROWSER_WAIT_MS)
            page.wait_for_function("document.getElementById('midi-status').textContent !== '…'", timeout=BROWSER_WAIT_MS)
            assert page.locator("#midi-status").inner_text() == "not allowed by the browser"  # headless: refused, said so
            dims, reach = page.evaluate("[panel.knobs.map((knob) => knob.dim), panel.hello.latent_range]")
            # CC 21 at its top turns the first knob to the end of its range
            midi_then_new_state(page, "[0xB0, 21, 127]")
            assert instrument.panel.state.z[dims[0]] == pytest.approx(reach, abs=1e-3) and instrument.panel.state.source == "knob"
            assert float(page.locator(".knob .value").first.inner_text()) == pytest.approx(reach)
            # a note-on renders the sound at its note and velocity
            midi_then_new_state(page, "[0x90, 64, 90]")
            assert (instrument.panel.state.midi_pitch, instrument.panel.state.velocity) == (64, 90)
            assert page.locator("#pitch").input_value() == "64"
            # MIDI learn: the next controller moves the knob touched last, and the binding is kept
            page.locator(".knob").nth(1).focus()
            page.locator("#midi-learn").click()
            midi_then_new_state(page, "[0xB0, 30, 0]")
            assert instrument.panel.state.z[dims[1]] == pytest.approx(-reach, abs=1e-3)
            assert page.evaluate("JSON.parse(localStorage.getItem('synthgen-midi-bindings'))") == {"30": dims[1]}
            assert f"knob z{dims[1]} now follows MIDI CC 30" in page.locator("#log").inner_text()
            browser.close()
        assert not errors, errors
    finally:
        stop()
