"""Compose with a piano-roll model: continue a primer, start a piece, or harmonise a melody.

A piano-roll model (``studio.models.piano_roll``) gives the probabilities of the next frame's 88 keys. An
independent-keys model's frame is drawn as 88 coins at once (``_draw``); a top-down model's key by key from the
highest, each coin knowing the keys above it (``_draw_top_down``). The temperature sharpens or flattens every coin;
``max_notes`` caps the keys sounding at once (a chorale has four voices).

Harmonising clamps the melody: at each frame the melody's key is on and every key above it off, and the keys below
are drawn. For a top-down model the melody's key is drawn first, so the voices are drawn hearing it; an
independent-keys model draws them without knowing frame t's melody note. Either way the model does not see the
*next* melody notes. Sequential Monte Carlo puts the tune in charge (``_harmonise``): many candidate harmonisations
run side by side and, frame by frame, are resampled by how likely each one's past makes the next melody note. On
Bach's own test sopranos this raises agreement with his lower voices well above plain clamped sampling
(``benchmarks/harmonise_jsb.py``, BENCHMARKS.md).

Keys and registers: Boulanger-Lewandowski's JSB Chorales are all transposed to C (major or minor) and sit an octave
above concert pitch. A model card records its data's tonic and register (``"data"``), and an input is moved there
(the smallest shift to the data's tonic, then whole octaves to its register) and the result moved back, so a
melody in A major is harmonised in A major at the pitch it was written.
"""

from __future__ import annotations

import itertools
import secrets
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pretty_midi
import torch
import torch.nn.functional as F

from studio.checkpoint import read_bundle
from studio.config import check_range
from studio.errors import StudioError
from studio.loading import PIANO_ROLL, pick_device, resolve_model
from studio.models.piano_roll import KEYS, PianoRollConfig, PianoRollModel
from studio.music.pianoroll.frames import (
    LOWEST_MIDI,
    estimate_roll_tonic,
    first_tempo,
    frames_to_midi,
    midi_to_frames,
    top_line,
)
from studio.music.theory.keys import key_tonic

MAX_FRAMES = 4000
MAX_ROWS = 8192    # pieces x particles drawn side by side
MAX_ROW_FRAMES = 10_000_000  # rows x frames kept while drawing (88 bytes each: under 1 GB)


@dataclass
class RollModel:
    """A loaded piano-roll model and what its card says about its data."""

    model: PianoRollModel
    card: dict[str, Any]
    path: Path
    frames_per_beat: int = 1
    tonic: int | None = None         # pitch class all training pieces were transposed to (JSB: 0, C); None: any
    top_median: float | None = None  # median MIDI pitch of the training data's top voice
    concert_shift: int = 0           # semitones that bring the data's register to concert pitch (JSB: -12)


def load_roll_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> RollModel:
    """Load a shipped or local piano-roll model for inference (eval mode, float32)."""
    path = resolve_model(name_or_path)
    bundle = read_bundle(path, with_extras=False)
    card = bundle.card
    if card.get("model_kind") != PIANO_ROLL:
        raise StudioError(f"{name_or_path} is not a piano-roll model (model_kind {card.get('model_kind')!r})")
    try:
        config = PianoRollConfig.from_dict(card["model_config"])
        model = PianoRollModel(config)
        model.load_state_dict({k: v.float() for k, v in bundle.weights.items()})
    except (KeyError, RuntimeError, TypeError) as err:
        raise StudioError(f"checkpoint {path}: the weights do not fit the card's model_config ({err})") from err
    model.to(pick_device(device) if isinstance(device, str) else device).eval()
    data = card.get("data", {})
    return RollModel(model, card, bundle.path or path, int(card.get("frames_per_beat", 1)), data.get("tonic"),
                     data.get("top_median"), int(data.get("concert_shift", 0)))


@dataclass
class RollRequest:
    """What to compose. Ranges are checked by ``validate`` (and named in its errors)."""

    frames: int = 64             # frames to add after the primer (ignored when harmonising: the melody sets it)
    temperature: float = 1.0     # divides the logits: < 1 plays safer, > 1 wilder
    max_notes: int = 4           # at most this many keys per frame (0: no cap): independent keys keep the most
                                 # probable; a top-down model stops once that many sound (from the top: the melody
                                 # and upper voices first)
    num_samples: int = 1         # pieces drawn as one batch
    seed: int | None = None      # None draws one (reported in the result)
    tempo: float | None = None   # quarter notes per minute; None: the primer's or melody's, else 90
    particles: int = 32          # harmonising: candidate harmonisations per piece, resampled to fit the melody
    min_notes: int = 0           # harmonising: at least this many keys under a sounding melody note (0: no floor)
    key: str | None = None       # the input's key ("G", "Em", "F#"), when the estimate from its notes is wrong

    def validate(self) -> None:
        check_range("frames", self.frames, 1, MAX_FRAMES, integer=True)
        check_range("temperature", self.temperature, 0.0, 10.0, low_open=True)
        check_range("max_notes", self.max_notes, 0, KEYS, integer=True)
        check_range("min_notes", self.min_notes, 0, KEYS, integer=True)
        if self.max_notes and self.min_notes > self.max_notes:
            raise StudioError(f"min_notes ({self.min_notes}) must not exceed max_notes ({self.max_notes})")
        check_range("num_samples", self.num_samples, 1, 256, integer=True)
        check_range("particles", self.particles, 1, 1024, integer=True)
        if self.num_samples * self.particles > MAX_ROWS:
            raise StudioError(f"num_samples x particles must be at most {MAX_ROWS} (they run as one batch); got "
                              f"{self.num_samples} x {self.particles}")
        if self.seed is not None:
            check_range("seed", self.seed, 0, 2**63 - 1, integer=True)
        if self.tempo is not None:
            check_range("tempo", self.tempo, 20.0, 400.0)
        if self.key is not None:
            key_tonic(self.key)  # a bad name raises here, naming what to write

    @property
    def tonic(self) -> int | None:
        """The pitch class of ``key``'s tonic, or None to estimate it from the notes."""
        return key_tonic(self.key) if self.key is not None else None


@dataclass
class RollPiece:
    """One composed piece: the whole roll (input included), its MIDI, and how it was made."""

    roll: torch.Tensor          # (frames, 88) bool, at the input's pitch
    midi: pretty_midi.PrettyMIDI
    new_frames: int             # frames the model drew (the end of ``roll``)
    logprob: float              # log-probability of the drawn frames under the model at temperature 1
    seed: int
    params: dict[str, Any] = field(default_factory=dict)


def shift_roll(roll: torch.Tensor, shift: int, drop: bool = False) -> torch.Tensor:
    """``roll`` moved ``shift`` semitones. Notes that would leave the keyboard raise a StudioError, or with ``drop``
    are left out (moving a model's output back: a voice it wrote at the very bottom of its register)."""
    if shift == 0 or not bool(roll.any()):
        return roll.clone()
    keys = roll.any(0).nonzero().flatten()
    if not drop and (int(keys.min()) + shift < 0 or int(keys.max()) + shift >= KEYS):
        raise StudioError(f"moving the input {shift:+d} semitones would take notes off the piano")
    moved = torch.zeros_like(roll)
    if shift > 0:
        moved[:, shift:] = roll[:, :KEYS - shift]
    else:
        moved[:, :KEYS + shift] = roll[:, -shift:]
    return moved


def input_shift(model: RollModel, roll: torch.Tensor, tonic: int | None = None) -> int:
    """Semitones that move ``roll`` (in the key of ``tonic``, estimated from its notes when None) to the model's
    training key and register (0 when the card does not say)."""
    if not bool(roll.any()):
        return 0
    shift = 0
    if model.tonic is not None:
        shift = (model.tonic - (estimate_roll_tonic(roll) if tonic is None else tonic)) % 12
        shift = shift - 12 if shift > 6 else shift
    if model.top_median is not None:
        tops = [k + LOWEST_MIDI + shift for k in top_line(roll) if k is not None]
        shift += 12 * round((model.top_median - statistics.median(tops)) / 12)
    keys = roll.any(0).nonzero().flatten()
    low, high = -int(keys.min()), KEYS - 1 - int(keys.max())  # the shifts that keep every note on the keyboard
    fitting = [shift + 12 * k for k in range(-8, 9) if low <= shift + 12 * k <= high]
    # The wanted shift moved by whole octaves to fit; an input too wide for any of them stays where it is.
    return min(fitting, key=lambda s: abs(s - shift)) if fitting else 0


def _draw(logits: torch.Tensor, temperature: float, max_notes: int, generator: torch.Generator,
          melody: torch.Tensor | None, min_notes: int = 0) -> torch.Tensor:
    """One frame per row from (rows, 88) logits: independent coins, the melody clamped, at most ``max_notes`` on.

    ``melody`` is (rows,) long: the key the top voice must play, -1 for a silent frame; None when free. With
    ``min_notes``, a frame under a sounding melody note that drew fewer keys gets the most probable keys below the
    melody added until it has that many (independent coins often drop a voice: a chorale has four).
    """
    probs = torch.sigmoid(logits / temperature)
    frame = torch.rand(probs.shape, generator=generator) < probs
    if melody is not None:
        keys = torch.arange(KEYS).expand_as(frame)
        frame &= keys < melody[:, None]                          # nothing above the melody (or all off at -1)
        frame |= keys == melody[:, None]                          # the melody itself
    frame = _fill(frame, probs, melody, min_notes)
    if max_notes and int(frame.sum(1).max()) > max_notes:
        rank = torch.where(frame, probs, torch.full_like(probs, -1.0))
        if melody is not None:
            rank = torch.where(torch.arange(KEYS) == melody[:, None], torch.full_like(probs, 2.0), rank)
        keep = rank.topk(max_notes, dim=1).indices
        frame &= torch.zeros_like(frame).scatter_(1, keep, True)
    return frame


def _draw_top_down(net: PianoRollModel, context: torch.Tensor, temperature: float, max_notes: int,
                   generator: torch.Generator, melody: torch.Tensor | None, min_notes: int = 0) -> torch.Tensor:
    """One frame per row from a top-down model, key by key from the top: (rows, hidden) context -> (rows, 88) bool.

    The same policy as ``_draw``, but each key is drawn knowing the keys above it: the melody's key (clamped on,
    every key above it off) comes first, so the voices are drawn under the tune's actual note, and ``max_notes``
    simply turns the remaining keys off once that many sound (the lowest keys are the ones given up).
    """
    rows = context.shape[0]
    probs = torch.zeros(rows, KEYS)
    count = torch.zeros(rows, dtype=torch.long)
    # Everything per frame that does not depend on the keys drawn, made once: the coins in drawing order (the same
    # stream as one draw per key), and where each row's melody key is and which keys lie under it.
    coins = torch.rand(KEYS, rows, generator=generator)
    keys = torch.arange(KEYS)[:, None]
    is_melody = keys == melody[None, :] if melody is not None else torch.zeros(KEYS, rows, dtype=torch.bool)
    under = keys < melody[None, :] if melody is not None else None

    def choose(key: int, logit: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(logit.float().cpu() / temperature)
        probs[:, key] = p
        on = coins[KEYS - 1 - key] < p
        if under is not None:
            on = is_melody[key] | (on & under[key])
        if max_notes:
            on &= (count < max_notes) | is_melody[key]
        count.add_(on)
        return on

    frame = net.draw_frame(context, choose).cpu().bool()
    return _fill(frame, probs, melody, min_notes)


def _fill(frame: torch.Tensor, probs: torch.Tensor, melody: torch.Tensor | None, min_notes: int) -> torch.Tensor:
    """``frame`` with, under each sounding melody note, the most probable unplayed keys below it added until the
    frame has ``min_notes`` keys (frame (rows, 88) bool, probs (rows, 88), melody (rows,) long or None)."""
    if melody is None or not min_notes:
        return frame
    below = torch.arange(KEYS)[None, :] < melody[:, None]
    missing = (min_notes - frame.sum(1)).clamp(min=0) * (melody >= 0)
    if int(missing.max()) == 0:
        return frame
    rank = torch.where(below & ~frame, probs, torch.full_like(probs, -1.0))
    order = rank.argsort(dim=1, descending=True)
    take = torch.arange(KEYS)[None, :] < missing[:, None]  # the first `missing` of each row's order
    return frame | (torch.zeros_like(frame).scatter_(1, order, take) & below)


def _draw_frame(net: PianoRollModel, context: torch.Tensor, request: RollRequest, generator: torch.Generator,
                melody: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw the next frame of every row from ``read``'s (rows, hidden) context: (rows, 88) bool frames and their
    log-probability at temperature 1, (rows,)."""
    min_notes = request.min_notes if melody is not None else 0
    if net.reads_frame:
        frame = _draw_top_down(net, context, request.temperature, request.max_notes, generator, melody, min_notes)
        # A top-down key's logit depends on the keys drawn above it: score the frame as drawn.
        logits = net.frame_logits(context, frame.to(context.device, context.dtype)).float().cpu()
    else:  # independent keys: the logits the frame was drawn from are the ones that score it
        logits = net.frame_logits(context, context.new_zeros(context.shape[0], KEYS)).float().cpu()
        frame = _draw(logits, request.temperature, request.max_notes, generator, melody, min_notes)
    return frame, -F.binary_cross_entropy_with_logits(logits, frame.float(), reduction="none").sum(1)


def _keep_written_melody(midi: pretty_midi.PrettyMIDI, source: pretty_midi.PrettyMIDI, tempo: float) -> None:
    """Put the melody back as written (passing eighths and all) when the source is one line, at one tempo, and
    the output plays at that tempo.

    The grid keeps only the notes sounding on each frame; a one-line source whose timing the output shares can be
    copied whole instead. Anything else keeps the grid's top line: a source with chords or several parts (a
    full chorale, a tune with its accompaniment on one track), since which of its notes are "the melody" between
    frames is not known; a source with tempo changes, or an output at another tempo, since the copied notes would
    no longer line up with the voices.
    """
    pitched = [i for i in source.instruments if not i.is_drum and i.notes]
    tempi = source.get_tempo_changes()[1]
    if len(pitched) != 1 or len(tempi) > 1 or abs(first_tempo(source) - tempo) > 1e-6:
        return
    notes = sorted(pitched[0].notes, key=lambda n: (n.start, n.end))
    if any(later.start < earlier.end - 0.01 for earlier, later in itertools.pairwise(notes)):
        return  # two notes sound at once: not a single line
    for instrument in midi.instruments:
        if instrument.name == "melody":
            instrument.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]


def _melody_loglik(net: PianoRollModel, context: torch.Tensor, key: int | None) -> torch.Tensor:
    """log p(the top sounding key is ``key`` | the past) for each row of ``read``'s (rows, hidden) context: ``key``
    on and every key above it off (all keys off for a silent frame, ``key`` None). Shape (rows,).

    Exact for both kinds of model: a top-down key reads only the keys above it, which this event fixes."""
    frame = context.new_zeros(context.shape[0], KEYS)
    if key is not None:
        frame[:, key] = 1.0
    logits = net.frame_logits(context, frame).float().cpu()
    off = F.logsigmoid(-logits)
    if key is None:
        return off.sum(1)
    return F.logsigmoid(logits[:, key]) + off[:, key + 1:].sum(1)


def _sample(net: PianoRollModel, prefix: torch.Tensor, steps: int, request: RollRequest,
            generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``request.num_samples`` continuations of ``prefix`` (frames, 88): (rows, steps, 88) bool frames and the
    log-probability of each row's frames at temperature 1, shape (rows,)."""
    rows = request.num_samples
    device = next(net.parameters()).device
    inputs = torch.cat([net.first_input(rows).cpu(), prefix.expand(rows, -1, -1)], dim=1)
    context, state = net.read(inputs.to(device))
    context = context[:, -1]
    frames, logprob = torch.zeros(rows, steps, KEYS, dtype=torch.bool), torch.zeros(rows)
    for t in range(steps):
        frame, frame_logprob = _draw_frame(net, context, request, generator)
        logprob += frame_logprob
        frames[:, t] = frame
        out, state = net.read(frame.float()[:, None].to(device), state, start=prefix.shape[0] + t + 1)
        context = out[:, -1]
    return frames, logprob


def _harmonise(net: PianoRollModel, melody: list[int | None], request: RollRequest,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Voices under ``melody`` (one key or None per frame) by sequential Monte Carlo: (rows, frames, 88), (rows,).

    Neither kind of model sees the tune's *next* notes (an independent-keys model does not even see frame t's note
    while drawing frame t's voices), so a harmony drawn forward alone ignores where the tune goes. Each requested
    piece is therefore ``request.particles`` candidate harmonisations: before frame t is drawn, every candidate is
    weighted by how likely its past makes the melody's frame t (``_melody_loglik``) and the candidates are resampled
    by those weights. Candidates whose last chords lead to the melody's next note survive; the rest are dropped.
    With one particle it is plain clamped sampling.
    """
    groups, size = request.num_samples, request.particles
    rows = groups * size
    device = next(net.parameters()).device
    context, state = net.read(net.first_input(rows).to(device))
    context = context[:, -1]
    logprob = torch.zeros(rows)
    # Each step keeps its frames and, per row, the row of the step before it descends from; the chosen pieces
    # are traced back at the end, so resampling never copies whole histories.
    frames: list[torch.Tensor] = []
    parents: list[torch.Tensor] = []
    offsets = (torch.arange(groups) * size)[:, None]
    for t, key in enumerate(melody):
        order = torch.arange(rows)
        if size > 1 and t > 0:  # at t = 0 every candidate has the same (empty) past
            weights = _melody_loglik(net, context, key).view(groups, size)
            picks = torch.multinomial(torch.softmax(weights, dim=1), size, replacement=True, generator=generator)
            order = (picks + offsets).flatten()
            index = order.to(device)
            context, logprob = context.index_select(0, index), logprob[order]
            state = (tuple(s.index_select(1, index) for s in state) if isinstance(state, tuple)
                     else state.index_select(1, index))
        clamp = torch.full((rows,), -1 if key is None else key, dtype=torch.long)
        frame, frame_logprob = _draw_frame(net, context, request, generator, clamp)
        logprob += frame_logprob
        frames.append(frame)
        parents.append(order)
        out, state = net.read(frame.float()[:, None].to(device), state, start=t + 1)
        context = out[:, -1]
    keep = offsets.flatten()  # after resampling every candidate of a group is equally good: take the first
    chosen = torch.zeros(groups, len(melody), KEYS, dtype=torch.bool)
    row = keep
    for t in range(len(melody) - 1, -1, -1):
        chosen[:, t] = frames[t][row]
        row = parents[t][row]
    return chosen, logprob[keep]


@torch.inference_mode()
def compose_rolls(model: RollModel, request: RollRequest, primer: pretty_midi.PrettyMIDI | None = None,
                  melody: pretty_midi.PrettyMIDI | None = None) -> list[RollPiece]:
    """Continue ``primer`` (or start a piece when both are None) by ``request.frames``, or harmonise the top line of
    ``melody``; ``request.num_samples`` pieces, drawn as one batch."""
    request.validate()
    if primer is not None and melody is not None:
        raise StudioError("give a primer to continue or a melody to harmonise, not both")
    fpb = model.frames_per_beat
    source = primer if primer is not None else melody
    given = midi_to_frames(source, fpb) if source is not None else torch.zeros(0, KEYS)
    if source is not None and not bool(given.any()):
        raise StudioError("the primer has no notes on the piano's 88 keys" if primer is not None
                          else "the melody has no notes on the piano's 88 keys")
    if given.shape[0] > MAX_FRAMES:
        raise StudioError(f"the input is {given.shape[0]} frames long, more than the {MAX_FRAMES} a piece may have; "
                          "cut it first")
    rows = request.num_samples * (request.particles if melody is not None else 1)
    steps_wanted = given.shape[0] if melody is not None else request.frames
    if rows * steps_wanted > MAX_ROW_FRAMES:  # every drawn frame of every row is kept until the pieces are done
        raise StudioError(f"{rows} rows x {steps_wanted} frames is too much at once (at most {MAX_ROW_FRAMES:,}); "
                          "draw fewer pieces or particles, or a shorter piece")
    shift = input_shift(model, given, request.tonic)
    moved = shift_roll(given, shift)
    out_shift = -shift if source is not None else model.concert_shift
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
    generator = torch.Generator().manual_seed(seed)
    tempo = request.tempo or (first_tempo(source) if source is not None else 90.0)

    melody_keys: list[int | None] | None = None
    if melody is not None:
        melody_keys = top_line(moved)
        prefix = torch.zeros(0, KEYS)
        new, logprob = _harmonise(model.model, melody_keys, request, generator)
        steps = len(melody_keys)
    else:
        prefix, steps = moved, request.frames
        new, logprob = _sample(model.model, prefix, steps, request, generator)
    pieces = []
    params = {"model": str(model.path), "model_sha256": model.card.get("weights", {}).get("sha256", "")[:16],
              "mode": "harmonise" if melody is not None else ("continue" if primer is not None else "start"),
              "frames_per_beat": fpb, "temperature": request.temperature, "max_notes": request.max_notes,
              "tempo": tempo, "transposed_by": shift, "seed": seed,
              **({"key": request.key} if request.key is not None else {}),
              **({"particles": request.particles} if melody is not None else {})}
    for row in range(request.num_samples):
        whole = torch.cat([prefix.bool(), new[row]]) if melody is None else new[row]
        whole = shift_roll(whole, out_shift, drop=True).bool()
        midi_melody = ([None if k is None else k + out_shift for k in melody_keys] if melody_keys is not None
                       else None)
        midi = frames_to_midi(whole, tempo=tempo, frames_per_beat=fpb, program=model.card.get("program", 0),
                              melody_keys=midi_melody)
        if melody is not None:
            _keep_written_melody(midi, melody, tempo)
        pieces.append(RollPiece(whole, midi, steps, float(logprob[row]), seed,
                                {**params, "sample": row + 1, "frames": steps}))
    return pieces
