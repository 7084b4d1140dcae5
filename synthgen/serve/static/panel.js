// synthgen serve: macro knobs, XY pad, parameter readout, spectrogram and playback over one websocket.
"use strict";

const $ = (id) => document.getElementById(id);
const panel = { hello: null, state: null, knobs: [], dragging: new Set(), pending: {}, sounds: 0, moveId: 0, sentAt: new Map() };
let socket = null;
let audioContext = null;
let currentBuffer = null;
let currentSource = null;

function log(text, isError = false) {
  const item = document.createElement("li");
  item.textContent = text;
  if (isError) item.className = "error";
  $("log").prepend(item);
  while ($("log").children.length > 30) $("log").lastChild.remove();
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

// Moves carry a number; the server echoes it with the sound, so the page knows how long the sound took.
function sendMove(message) {
  panel.moveId += 1;
  panel.sentAt.set(panel.moveId, performance.now());
  if (panel.sentAt.size > 500) panel.sentAt.delete(panel.sentAt.keys().next().value);
  send({ ...message, id: panel.moveId });
}

// Moves are merged and sent at most once per animation frame; the server renders only the newest.
let frameRequested = false;
function moveLatent(dim, value) {
  const range = panel.hello.latent_range;
  panel.pending[dim] = Math.max(-range, Math.min(range, value));
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(() => {
      frameRequested = false;
      sendMove({ type: "latent", values: panel.pending });
      panel.pending = {};
    });
  }
}

// ---- knobs ----
function arcPath(fraction) {
  const start = Math.PI * 0.75, sweep = Math.PI * 1.5 * fraction;
  const r = 22, cx = 29, cy = 29;
  const x0 = cx + r * Math.cos(start), y0 = cy + r * Math.sin(start);
  const x1 = cx + r * Math.cos(start + sweep), y1 = cy + r * Math.sin(start + sweep);
  return `M ${x0} ${y0} A ${r} ${r} 0 ${sweep > Math.PI ? 1 : 0} 1 ${x1} ${y1}`;
}

function buildKnobs() {
  const box = $("knobs");
  box.textContent = "";
  panel.knobs = panel.hello.knobs.map((knob, index) => {
    const el = document.createElement("div");
    el.className = "knob";
    el.tabIndex = 0;
    el.dataset.dim = knob.dim;
    el.title = `latent dimension ${knob.dim}: moves ${knob.moved.join(", ")}. Drag up/down, arrow keys, double-click resets.`;
    el.innerHTML = `<svg viewBox="0 0 58 58"><path d="${arcPath(1)}" stroke="#343a46" stroke-width="6" fill="none" stroke-linecap="round"/>
      <path class="arc" stroke="#f0a030" stroke-width="6" fill="none" stroke-linecap="round"/>
      <line class="pointer" x1="29" y1="29" stroke="#e6e6e6" stroke-width="2.5" stroke-linecap="round"/></svg>
      <div class="name">${index < 2 ? "xy " : ""}z${knob.dim}</div><div class="value"></div><div class="moved">${knob.moved.join(" · ")}</div>`;
    box.append(el);
    const view = { el, dim: knob.dim, value: 0 };
    let startY = 0, startValue = 0;
    el.addEventListener("focus", () => { panel.lastKnob = view; });
    el.addEventListener("pointerdown", (event) => {
      panel.lastKnob = view;
      el.setPointerCapture(event.pointerId);
      panel.dragging.add(knob.dim);
      startY = event.clientY;
      startValue = view.value;
      unlockAudio();
    });
    el.addEventListener("pointermove", (event) => {
      if (!panel.dragging.has(knob.dim)) return;
      const range = panel.hello.latent_range;
      setKnob(view, startValue + ((startY - event.clientY) / 150) * range);
      moveLatent(knob.dim, view.value);
    });
    const release = () => panel.dragging.delete(knob.dim);
    el.addEventListener("pointerup", release);
    el.addEventListener("pointercancel", release);
    el.addEventListener("dblclick", () => { setKnob(view, 0); moveLatent(knob.dim, 0); });
    el.addEventListener("keydown", (event) => {
      const step = { ArrowUp: 0.1, ArrowRight: 0.1, ArrowDown: -0.1, ArrowLeft: -0.1 }[event.key];
      if (step === undefined) return;
      event.preventDefault();
      setKnob(view, view.value + step);
      moveLatent(knob.dim, view.value);
    });
    return view;
  });
  const [a, b] = panel.hello.knobs;
  $("xy-label").textContent = `x: z${a.dim} (${a.moved[0]}), y: z${b.dim} (${b.moved[0]})`;
}

function setKnob(view, value) {
  const range = panel.hello.latent_range;
  view.value = Math.max(-range, Math.min(range, value));
  const fraction = (view.value + range) / (2 * range);
  view.el.querySelector(".arc").setAttribute("d", fraction > 0.001 ? arcPath(fraction) : "M 0 0");
  const angle = Math.PI * 0.75 + Math.PI * 1.5 * fraction;
  const pointer = view.el.querySelector(".pointer");
  pointer.setAttribute("x2", 29 + 16 * Math.cos(angle));
  pointer.setAttribute("y2", 29 + 16 * Math.sin(angle));
  view.el.querySelector(".value").textContent = value.toFixed(2);
}

// ---- XY pad ----
function drawXY() {
  const canvas = $("xy"), g = canvas.getContext("2d"), range = panel.hello.latent_range;
  const [a, b] = panel.knobs;
  const x = ((a.value + range) / (2 * range)) * canvas.width;
  const y = (1 - (b.value + range) / (2 * range)) * canvas.height;
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.strokeStyle = "#343a46";
  for (let k = 1; k < 4; k++) {
    g.beginPath(); g.moveTo((k * canvas.width) / 4, 0); g.lineTo((k * canvas.width) / 4, canvas.height); g.stroke();
    g.beginPath(); g.moveTo(0, (k * canvas.height) / 4); g.lineTo(canvas.width, (k * canvas.height) / 4); g.stroke();
  }
  g.fillStyle = "#f0a030";
  g.beginPath(); g.arc(x, y, 9, 0, 2 * Math.PI); g.fill();
}

function setupXY() {
  const canvas = $("xy");
  let down = false;
  const move = (event) => {
    const box = canvas.getBoundingClientRect();
    const x = Math.max(0, Math.min(1, (event.clientX - box.left) / box.width));
    const y = Math.max(0, Math.min(1, 1 - (event.clientY - box.top) / box.height));
    const range = panel.hello.latent_range;
    const [a, b] = panel.knobs;
    setKnob(a, (2 * x - 1) * range);
    setKnob(b, (2 * y - 1) * range);
    drawXY();
    moveLatent(a.dim, a.value);
    moveLatent(b.dim, b.value);
  };
  canvas.addEventListener("pointerdown", (event) => {
    down = true; canvas.setPointerCapture(event.pointerId);
    panel.knobs.slice(0, 2).forEach((k) => panel.dragging.add(k.dim));
    unlockAudio(); move(event);
  });
  canvas.addEventListener("pointermove", (event) => { if (down) move(event); });
  const release = () => { down = false; panel.knobs.slice(0, 2).forEach((k) => panel.dragging.delete(k.dim)); };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
}

// ---- state and readout ----
function showState(state) {
  const previous = panel.state;
  panel.state = state;
  for (const view of panel.knobs) if (!panel.dragging.has(view.dim)) setKnob(view, state.z[view.dim]);
  drawXY();
  const rows = $("params");
  if (rows.children.length !== state.parameters.length) {
    rows.textContent = "";
    for (const p of state.parameters) {
      const tr = document.createElement("tr");
      tr.dataset.name = p.name;
      tr.innerHTML = `<td class="name"></td><td class="text"></td><td class="bar"><div></div></td>`;
      tr.querySelector(".name").textContent = p.name;
      rows.append(tr);
    }
  }
  state.parameters.forEach((p, k) => {
    const tr = rows.children[k];
    const display = panel.display && panel.display[p.name];
    tr.querySelector(".text").textContent = display ? `${display} (${p.text})` : p.text;
    tr.querySelector(".bar div").style.width = `${(100 * p.unit_value).toFixed(1)}%`;
    const old = previous && previous.version !== state.version && previous.parameters[k];
    if (old) tr.classList.toggle("changed", Math.abs(old.unit_value - p.unit_value) > 1e-4);
  });
  if (document.activeElement !== $("pitch")) $("pitch").value = state.midi_pitch;
  if (document.activeElement !== $("velocity")) $("velocity").value = state.velocity;
  $("undo").disabled = state.history === 0;
  $("history").textContent = `history: ${state.history}`;
  $("source").textContent = `v${state.version} · ${state.source}`;
  document.body.dataset.stateVersion = state.version;
}

// ---- sound ----
function unlockAudio() {
  if (!audioContext) audioContext = new AudioContext();
  if (audioContext.state === "suspended") audioContext.resume();
}

const COLORS = [[0, 0, 4], [80, 18, 123], [182, 54, 121], [251, 136, 97], [252, 253, 191]];
function color(level) {
  const t = (level / 255) * (COLORS.length - 1), k = Math.min(Math.floor(t), COLORS.length - 2), f = t - k;
  return COLORS[k].map((c, i) => Math.round(c + f * (COLORS[k + 1][i] - c)));
}

// The log-mel of a sound follows it (and is skipped when a newer sound is already on its way).
function drawSpectrogram(mel) {
  const canvas = $("spectrogram");
  canvas.width = mel.n_frames;
  canvas.height = mel.n_mels;
  const g = canvas.getContext("2d"), image = g.createImageData(mel.n_frames, mel.n_mels);
  for (let band = 0; band < mel.n_mels; band++) {
    for (let frame = 0; frame < mel.n_frames; frame++) {
      const [r, gr, b] = color(mel.levels[band * mel.n_frames + frame]);
      const at = 4 * ((mel.n_mels - 1 - band) * mel.n_frames + frame);
      image.data[at] = r; image.data[at + 1] = gr; image.data[at + 2] = b; image.data[at + 3] = 255;
    }
  }
  g.putImageData(image, 0, 0);
}

function play() {
  if (!audioContext || !currentBuffer) return;
  if (currentSource) currentSource.stop();
  currentSource = audioContext.createBufferSource();
  currentSource.buffer = currentBuffer;
  currentSource.connect(audioContext.destination);
  currentSource.start();
}

async function receiveSound(data) {
  const view = new DataView(data);
  const length = view.getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(data, 4, length)));
  const wav = data.slice(4 + length);
  panel.display = header.display;
  if (!audioContext) audioContext = new AudioContext();
  currentBuffer = await audioContext.decodeAudioData(wav);
  panel.sounds += 1;
  document.body.dataset.sounds = panel.sounds;
  document.body.dataset.soundVersion = header.version;
  $("duration").textContent = `${currentBuffer.duration.toFixed(1)} s`;
  $("sound-info").textContent = `v${header.version} · rendered in ${header.render_ms.toFixed(0)} ms`;
  if (panel.sentAt.has(header.move_id)) {
    $("status").textContent = `move → sound in ${(performance.now() - panel.sentAt.get(header.move_id)).toFixed(0)} ms`;
  }
  if ($("autoplay").checked && audioContext.state === "running") play();
  if (panel.state) showState(panel.state);
}

// ---- files ----
async function post(url, body, headers = {}) {
  const response = await fetch(url, { method: "POST", body, headers });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || JSON.stringify(answer.detail || answer));
  return answer;
}

async function resynthesize(file) {
  log(`resynthesizing ${file.name} …`);
  try {
    const answer = await post("/api/resynth", file, { "x-filename": file.name });
    log(`resynthesized ${file.name}${answer.changes.length ? " (" + answer.changes.join(", ") + ")" : ""}: now steering from its preset`);
  } catch (error) { log(error.message, true); }
}

function setupFiles() {
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) resynthesize(event.dataTransfer.files[0]);
  });
  $("wav-file").addEventListener("change", (event) => { if (event.target.files.length) resynthesize(event.target.files[0]); });
  $("preset-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    try { await post("/api/presets/load", file, { "x-filename": file.name }); log(`loaded preset ${file.name}`); }
    catch (error) { log(error.message, true); }
    event.target.value = "";
  });
  $("save").addEventListener("click", async () => {
    try {
      const answer = await post("/api/presets", JSON.stringify({ name: $("preset-name").value }), { "content-type": "application/json" });
      log(`saved ${answer.files.join(", ")}`);
    } catch (error) { log(error.message, true); }
  });
}

function setupNote() {
  const change = () => {
    const pitch = Number($("pitch").value), velocity = Number($("velocity").value);
    send({ type: "note", midi_pitch: pitch, velocity });
  };
  $("pitch").addEventListener("change", change);
  $("velocity").addEventListener("change", change);
  $("play").addEventListener("click", () => { unlockAudio(); play(); });
  $("undo").addEventListener("click", () => send({ type: "undo" }));
}

// ---- MIDI controllers (Web MIDI) ----
// A control change turns the knob bound to its controller number: knob k follows CC 21 + k (the knobs of many
// controllers) until "MIDI learn" binds another (the next CC received goes to the knob touched last). A note-on
// renders the sound at its note and velocity. Bindings are kept in the browser (localStorage).
const MIDI_FIRST_CC = 21;
const MIDI_STORE = "synthgen-midi-bindings";
const midi = { bindings: {}, learning: false };

function loadMidiBindings() {
  try { midi.bindings = JSON.parse(localStorage.getItem(MIDI_STORE) || "{}"); } catch { midi.bindings = {}; }
}

function knobForController(controller) {
  if (controller in midi.bindings) return panel.knobs.find((view) => view.dim === midi.bindings[controller]);
  const view = panel.knobs[controller - MIDI_FIRST_CC];
  return view && !Object.values(midi.bindings).includes(view.dim) ? view : undefined;
}

function learnController(controller) {
  const view = panel.lastKnob || panel.knobs[0];
  for (const [bound, dim] of Object.entries(midi.bindings)) if (dim === view.dim) delete midi.bindings[bound];
  midi.bindings[controller] = view.dim;
  localStorage.setItem(MIDI_STORE, JSON.stringify(midi.bindings));
  midi.learning = false;
  $("midi-learn").classList.remove("active");
  log(`knob z${view.dim} now follows MIDI CC ${controller}`);
}

// Raw MIDI bytes in (also callable from the console or other scripts: window.synthgenMidi([0xB0, 21, 64])).
function handleMidi(data) {
  if (!panel.hello || data.length < 3) return;
  const [status, first, second] = data, kind = status & 0xf0;
  if (kind === 0xb0) {
    if (midi.learning) learnController(first);
    const view = knobForController(first);
    if (!view) return;
    const range = panel.hello.latent_range;
    setKnob(view, -range + (2 * range * second) / 127);
    moveLatent(view.dim, view.value);
  } else if (kind === 0x90 && second > 0) {
    $("pitch").value = first;
    $("velocity").value = second;
    send({ type: "note", midi_pitch: first, velocity: second });
  }
}
window.synthgenMidi = handleMidi;

async function setupMidi() {
  loadMidiBindings();
  $("midi-learn").addEventListener("click", () => {
    midi.learning = !midi.learning;
    $("midi-learn").classList.toggle("active", midi.learning);
    if (midi.learning) log(`MIDI learn: turn a controller knob for z${(panel.lastKnob || panel.knobs[0]).dim} (touch another knob here first to choose it)`);
  });
  if (!navigator.requestMIDIAccess) { $("midi-status").textContent = "this browser has no Web MIDI"; return; }
  try {
    const access = await navigator.requestMIDIAccess();
    const attach = () => {
      const inputs = [...access.inputs.values()];
      for (const input of inputs) input.onmidimessage = (event) => handleMidi(event.data);
      $("midi-status").textContent = inputs.length ? inputs.map((input) => input.name).join(", ") : "no controller connected";
    };
    access.onstatechange = attach;
    attach();
  } catch (error) {
    $("midi-status").textContent = error.name === "NotAllowedError" ? "not allowed by the browser" : `unavailable (${error.message})`;
  }
}

function connect() {
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  socket.binaryType = "arraybuffer";
  socket.addEventListener("open", () => { $("status").textContent = "connected"; });
  socket.addEventListener("close", () => { $("status").textContent = "disconnected: retrying…"; setTimeout(connect, 1000); });
  socket.addEventListener("message", (event) => {
    if (typeof event.data !== "string") { receiveSound(event.data); return; }
    const message = JSON.parse(event.data);
    if (message.type === "hello") {
      panel.hello = message;
      $("model-name").textContent = `· ${message.model} on ${message.synth}`;
      buildKnobs();
    } else if (message.type === "state") {
      showState(message);
    } else if (message.type === "spectrogram") {
      drawSpectrogram(message);
      document.body.dataset.spectrogramVersion = message.version;
    } else if (message.type === "error") {
      log(message.message, true);
    }
  });
}

setupXY();
setupFiles();
setupNote();
setupMidi();
connect();
