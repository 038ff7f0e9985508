"""The Trade tab's on-page keyboard: two octaves played with the mouse or the computer's keys, heard at once, and
recorded with its timing after a one-bar metronome count-in.

It is a ``gr.HTML`` whose script (``KEYBOARD_JS``) draws the keys, sounds them with the Web Audio API, and writes
the recording as JSON (``[[pitch, start_s, end_s], ...]``, seconds from the downbeat after the count-in) into the
textbox ``#trade-played``, firing its input event so the page sends it with the next request. Nothing leaves the
browser but that text. Every key press is kept: a key auto-repeat is ignored, a key still held when the recording
stops ends there, and a press during the count-in starts at the downbeat.
"""

from __future__ import annotations

LOWEST = 60  # C4: two octaves up to B5
KEYS_HTML = """
<div class="studio-keyboard" tabindex="0"
     aria-label="keyboard: click the keys, or type a w s e d f t g y h u j k o l p ;">
  <div class="kb-controls">
    <button type="button" class="kb-record" id="trade-record">Record (1-bar count-in)</button>
    <button type="button" class="kb-stop" id="trade-stop">Stop</button>
    <span class="kb-status" id="trade-status">ready: type a w s e d f t g y h u j k o l p ; or click the keys</span>
  </div>
  <div class="kb-keys" id="trade-keys"></div>
</div>
"""
KEYBOARD_CSS = """
.studio-keyboard { user-select: none; outline: none; }
.kb-controls { display: flex; gap: 8px; align-items: center; margin-bottom: 8px; }
.kb-controls button { padding: 4px 10px; border-radius: 6px; border: 1px solid #888; background: #f4f4f5;
                      cursor: pointer; }
.kb-status { font-size: 0.9em; opacity: 0.8; }
.kb-keys { position: relative; height: 120px; }
.kb-key { position: absolute; top: 0; border: 1px solid #444; border-radius: 0 0 4px 4px; box-sizing: border-box; }
.kb-white { background: #fff; height: 120px; width: 36px; z-index: 1; }
.kb-black { background: #222; height: 74px; width: 24px; z-index: 2; }
.kb-key.kb-down { background: #f59e0b; }
"""
KEYBOARD_JS = """
const root = element.querySelector('.studio-keyboard');
const keysBox = element.querySelector('#trade-keys');
const status = element.querySelector('#trade-status');
const LOWEST = __LOWEST__;
const TYPED = "awsedftgyhujkolp;";
const WHITE = [0, 2, 4, 5, 7, 9, 11];
let audio = null, recording = false, t0 = 0, beat = 0.5, stopAt = 0, played = [], held = {}, stopTimer = null;
const ctx = () => (audio = audio || new (window.AudioContext || window.webkitAudioContext)());
// Notes are timed by the page's clock (the audio clock stands still in a tab that may not play sound yet).
const now = () => performance.now() / 1000;
function tone(freq, dur, gain) {
  const c = ctx(), o = c.createOscillator(), g = c.createGain();
  o.frequency.value = freq; o.type = 'triangle'; g.gain.value = gain;
  o.connect(g); g.connect(c.destination); o.start(); o.stop(c.currentTime + dur);
  return o;
}
function setting(id, fallback) {
  const box = document.querySelector('#' + id + ' input[type=number]') || document.querySelector('#' + id + ' input');
  const v = box ? parseFloat(box.value) : NaN;
  return isNaN(v) ? fallback : v;
}
function publish() {
  const box = document.querySelector('#trade-played textarea');
  if (!box) return;
  box.value = JSON.stringify(played.map(n => [n[0], +n[1].toFixed(4), +n[2].toFixed(4)]));
  box.dispatchEvent(new Event('input', {bubbles: true}));
}
function down(pitch) {
  if (held[pitch] !== undefined) return;  // a held key repeats: one note
  const key = keysBox.querySelector('[data-pitch="' + pitch + '"]');
  if (key) key.classList.add('kb-down');
  const osc = tone(440 * Math.pow(2, (pitch - 69) / 12), 4.0, 0.12);
  held[pitch] = {start: now(), osc: osc};
}
function up(pitch) {
  const h = held[pitch];
  if (h === undefined) return;
  delete held[pitch];
  try { h.osc.stop(); } catch (e) {}
  const key = keysBox.querySelector('[data-pitch="' + pitch + '"]');
  if (key) key.classList.remove('kb-down');
  if (recording) {
    const start = Math.max(0, h.start - t0), end = Math.max(start, Math.min(now(), stopAt) - t0);
    if (h.start < stopAt) { played.push([pitch, start, end]); publish(); }
  }
}
for (let i = 0, x = 0; i < 24; i++) {
  const pc = i % 12, white = WHITE.includes(pc), key = document.createElement('div');
  key.className = 'kb-key ' + (white ? 'kb-white' : 'kb-black');
  key.dataset.pitch = LOWEST + i;
  key.title = ['C','C#','D','Eb','E','F','F#','G','Ab','A','Bb','B'][pc] + (Math.floor((LOWEST + i) / 12) - 1);
  key.style.left = (white ? x * 36 : x * 36 - 12) + 'px';
  if (white) x++;
  key.addEventListener('mousedown', e => { e.preventDefault(); root.focus(); down(LOWEST + i); });
  key.addEventListener('mouseup', () => up(LOWEST + i));
  key.addEventListener('mouseleave', () => up(LOWEST + i));
  keysBox.appendChild(key);
}
root.addEventListener('keydown', e => {
  const i = TYPED.indexOf(e.key);
  if (i < 0 || e.repeat) return;
  e.preventDefault(); down(LOWEST + i);
});
root.addEventListener('keyup', e => { const i = TYPED.indexOf(e.key); if (i >= 0) up(LOWEST + i); });
function stop() {
  if (!recording) return;
  for (const p of Object.keys(held)) up(+p);
  recording = false; clearTimeout(stopTimer);
  status.textContent = 'recorded ' + played.length + ' notes: press Answer';
  publish();
}
element.querySelector('#trade-record').addEventListener('click', () => {
  const tempo = setting('trade-tempo', 120), bars = setting('trade-bars', 4);
  beat = 60 / tempo; played = []; publish();
  t0 = now() + 4 * beat;  // the downbeat after a bar of four clicks
  stopAt = t0 + bars * 4 * beat;
  const c = ctx();
  if (c.resume) c.resume();
  const first = c.currentTime + 0.02;
  for (let b = 0; b < 4; b++) {
    const o = c.createOscillator(), g = c.createGain();
    o.frequency.value = b === 0 ? 1760 : 1320; g.gain.value = 0.2;
    o.connect(g); g.connect(c.destination); o.start(first + b * beat); o.stop(first + b * beat + 0.05);
  }
  recording = true; root.focus();
  status.textContent = 'count-in... then play ' + bars + ' bars';
  setTimeout(() => { if (recording) status.textContent = 'recording: play your call'; }, 4 * beat * 1000);
  stopTimer = setTimeout(stop, (stopAt - now()) * 1000 + 50);
});
element.querySelector('#trade-stop').addEventListener('click', stop);
""".replace("__LOWEST__", str(LOWEST))
