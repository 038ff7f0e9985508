"""Train and evaluate ``PianoRollModel`` on polyphonic piano-roll data (the Boulanger-Lewandowski benchmarks).

Data are the JSON splits of ``../shared/corpora/polyphonic/json`` (``{"train": [...], "valid": [...], "test": [...]}``,
each sequence a list of time steps, each step a list of MIDI numbers 21..108). Whole sequences form a batch, padded
to the longest with a mask; the loss is the summed 88-key binary cross-entropy per real frame (nats per time step),
averaged over all frames of a split, as in Boulanger-Lewandowski et al. (2012) and Chung et al. (2014).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.checkpoint import Bundle
from studio.errors import StudioError
from studio.models.piano_roll import KEYS, LOWEST_MIDI, PianoRollConfig, PianoRollModel, frame_nll
from studio.training.epoch_state import EpochLoop, load_loop, save_loop


def pitches_to_roll(steps: Sequence[Sequence[int]]) -> torch.Tensor:
    """One sequence of pitch sets -> a (time, 88) float 0/1 roll. MIDI ``p`` sets key ``p - 21``."""
    roll = torch.zeros(len(steps), KEYS)
    for t, pitches in enumerate(steps):
        for p in pitches:
            key = int(p) - LOWEST_MIDI
            if not 0 <= key < KEYS:
                raise StudioError(f"MIDI pitch {p} at step {t} is outside the piano (21..108)")
            roll[t, key] = 1.0
    return roll


def load_splits(path: str | Path) -> dict[str, list[torch.Tensor]]:
    """Read a JSON piano-roll data set into ``{"train"|"valid"|"test": [roll (time, 88), ...]}``."""
    path = Path(path)
    if not path.is_file():
        raise StudioError(f"piano-roll data set {path} not found")
    data = json.loads(path.read_text(encoding="utf-8"))
    return {split: [pitches_to_roll(seq) for seq in data[split] if len(seq)] for split in ("train", "valid", "test")}


def pad_batch(rolls: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad rolls of different lengths: (batch, max_time, keys) rolls and a (batch, max_time) bool mask."""
    longest = max(r.shape[0] for r in rolls)
    batch = torch.zeros(len(rolls), longest, rolls[0].shape[1])
    mask = torch.zeros(len(rolls), longest, dtype=torch.bool)
    for i, r in enumerate(rolls):
        batch[i, :r.shape[0]] = r
        mask[i, :r.shape[0]] = True
    return batch, mask


@torch.inference_mode()
def evaluate_rolls(model: PianoRollModel, rolls: Sequence[torch.Tensor], batch_size: int = 64) -> float:
    """Mean summed-over-keys BCE per frame (nats per time step) over every frame of ``rolls``."""
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    total, frames = 0.0, 0
    try:
        order = sorted(range(len(rolls)), key=lambda i: rolls[i].shape[0])  # similar lengths pad less
        for start in range(0, len(order), batch_size):
            batch, mask = pad_batch([rolls[i] for i in order[start:start + batch_size]])
            batch, mask = batch.to(device), mask.to(device)
            nats, count = frame_nll(model(batch), batch, mask)
            total += float(nats)
            frames += count
    finally:
        model.train(was_training)
    return total / max(frames, 1)


@dataclass
class RollTrainConfig:
    """How a piano-roll model is trained."""

    batch_size: int = 16           # sequences per step
    lr: float = 3e-3               # AdamW learning rate
    weight_decay: float = 1e-4     # AdamW decoupled weight decay
    grad_clip: float = 5.0         # global gradient-norm clip
    max_epochs: int = 500          # passes over the training sequences
    minutes: float = 3.0           # wall-clock budget; 0 means none
    patience: int = 20             # early stopping: epochs without a better validation loss
    lr_patience: int = 6           # halve the learning rate after this many epochs without improvement
    transpose: int = 0             # augmentation: shift each training sequence by up to +-transpose semitones
    bucket: bool = False           # batch sequences of similar length (less padding; order of batches still random)
    seed: int = 0
    device: str = "cpu"            # cpu, cuda, mps or auto (the models are small: the CPU is the default)


@dataclass
class RollResult:
    """The selected (best-validation) model and its figures."""

    model: PianoRollModel
    best_valid: float
    best_epoch: int
    epochs: int
    seconds: float
    stop_reason: str
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per epoch (epoch 0: the base model's)


def _transpose(roll: torch.Tensor, limit: int, generator: torch.Generator) -> torch.Tensor:
    """Shift a roll by a random number of semitones in [-limit, limit] that keeps every note on the keyboard."""
    keys = roll.any(0).nonzero().flatten()
    if not limit or keys.numel() == 0:
        return roll
    low, high = max(-limit, -int(keys.min())), min(limit, KEYS - 1 - int(keys.max()))
    shift = int(torch.randint(low, high + 1, (1,), generator=generator))
    return torch.roll(roll, shift, dims=1) if shift else roll


def epoch_batches(lengths: Sequence[int], batch_size: int, bucket: bool,
                  generator: torch.Generator) -> list[list[int]]:
    """One epoch's batches of sequence indices, in random order.

    Without ``bucket`` the batches are slices of a random permutation. With it, sequences are sorted by length
    (ties broken at random) before slicing, so each batch pads to a similar length: on Nottingham (40 to 1,788
    frames) random batches of 8 compute 1.8 frames per real frame, sorted ones about 1.0. The batches are then
    shuffled, so the model does not see lengths in order.
    """
    order = torch.randperm(len(lengths), generator=generator).tolist()
    if bucket:
        order.sort(key=lambda i: lengths[i])  # stable: equal lengths keep their random order
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    if bucket:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


def train_piano_roll(model_config: PianoRollConfig, train_config: RollTrainConfig, train: Sequence[torch.Tensor],
                     valid: Sequence[torch.Tensor],
                     on_epoch: Callable[[dict[str, Any]], None] | None = None,
                     initial: dict[str, torch.Tensor] | None = None, last: Path | None = None,
                     card: dict[str, Any] | None = None, resume: Bundle | None = None) -> RollResult:
    """Train on ``train`` with early stopping on ``valid``; return the best-validation model.

    With ``initial`` (a base model's weights) this fine-tunes: the base model's validation loss is epoch 0's, so
    a run that never beats it returns the base model unchanged (``best_epoch`` 0), never a worse one. With
    ``last``, the loop's whole state is written there (a bundle with ``card``) after every epoch (and after the
    base model is scored); ``resume`` (such a bundle, read with its state) continues it exactly.
    """
    c = train_config
    torch.manual_seed(c.seed)
    generator = torch.Generator().manual_seed(c.seed)
    from studio.loading import pick_device

    device = pick_device(c.device)
    model = PianoRollModel(model_config).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": c.weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=c.lr)
    loop = EpochLoop()
    if resume is not None:
        loop, best_state = load_loop(resume, model, optimizer, generator)
    else:
        if initial is not None:
            try:
                model.load_state_dict({k: v.float().to(device) for k, v in initial.items()})
            except RuntimeError as err:
                raise StudioError(f"the base model's weights do not fit its model_config ({err})") from err
            loop.best = evaluate_rolls(model, valid)
            loop.history.append({"epoch": 0, "train": math.nan, "valid": loop.best, "lr": 0.0, "seconds": 0.0})
            if on_epoch is not None:
                on_epoch(loop.history[0])
        best_state = copy.deepcopy(model.state_dict())
        if last is not None:  # a run killed from here on resumes without scoring the base model again
            save_loop(last, card or {}, model, optimizer, best_state, generator, loop)
    lengths = [roll.shape[0] for roll in train]
    started, reason, before = time.monotonic(), "max_epochs", loop.elapsed_s
    for epoch in range(loop.epoch + 1, c.max_epochs + 1):
        model.train()
        total, frames = 0.0, 0
        for indices in epoch_batches(lengths, c.batch_size, c.bucket, generator):
            batch, mask = pad_batch([_transpose(train[i], c.transpose, generator) for i in indices])
            batch, mask = batch.to(device), mask.to(device)
            nats, count = frame_nll(model(batch), batch, mask)
            loss = nats / count
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if c.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip)
            optimizer.step()
            total, frames = total + float(nats.detach()), frames + count
        valid_nll = evaluate_rolls(model, valid)
        elapsed = before + time.monotonic() - started
        row = {"epoch": epoch, "train": total / frames, "valid": valid_nll, "lr": optimizer.param_groups[0]["lr"],
               "seconds": elapsed}
        loop.history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        if valid_nll < loop.best - 1e-4:
            loop.best, best_state, loop.best_epoch = valid_nll, copy.deepcopy(model.state_dict()), epoch
            loop.since_best = loop.since_lr = 0
        else:
            loop.since_best, loop.since_lr = loop.since_best + 1, loop.since_lr + 1
            if loop.since_lr >= c.lr_patience:  # plateau: halve the rate and go on from the best weights
                for group in optimizer.param_groups:
                    group["lr"] *= 0.5
                model.load_state_dict(best_state)
                loop.since_lr = 0
        loop.epoch, loop.elapsed_s = epoch, elapsed
        if last is not None:
            save_loop(last, card or {}, model, optimizer, best_state, generator, loop)
        if c.patience and loop.since_best >= c.patience:
            reason = "early stopping"
            break
        if c.minutes and elapsed > c.minutes * 60:
            reason = "time budget"
            break
    model.load_state_dict(best_state)
    model.eval()
    return RollResult(model, loop.best, loop.best_epoch, loop.epoch, loop.elapsed_s, reason, loop.history)


# -- corpora and bundles ---------------------------------------------------------------------------------------------
SOPRANO_MIDDLE = 72  # C5: the middle of a soprano's (or a tune's) range, where a fresh piece's top line should sit


def data_profile(rolls: Sequence[torch.Tensor]) -> dict[str, Any]:
    """What composing needs to know about a training set: its common tonic, top-voice register and the octave
    shift to concert pitch (``studio.music.pianoroll.compose`` moves inputs there and results back).

    ``tonic`` is the pitch class that at least 80% of the pieces are estimated to be in (JSB Chorales: 0, all in
    C), else None; ``top_median`` the median MIDI pitch of the highest sounding key over all frames;
    ``concert_shift`` the whole octaves that move that median nearest to C5 (JSB sits an octave high: -12).
    """
    from studio.music.pianoroll.frames import estimate_roll_tonic, top_line

    tonics = [estimate_roll_tonic(r) for r in rolls if bool(r.any())]
    common = max(set(tonics), key=tonics.count) if tonics else None
    tonic = common if tonics and tonics.count(common) >= 0.8 * len(tonics) else None
    tops = sorted(k + LOWEST_MIDI for r in rolls for k in top_line(r) if k is not None)
    top_median = float(tops[len(tops) // 2]) if tops else float(SOPRANO_MIDDLE)
    return {"tonic": tonic, "top_median": top_median,
            "concert_shift": -12 * round((top_median - SOPRANO_MIDDLE) / 12)}


def music_rolls(paths: Sequence[str | Path], frames_per_beat: int
                ) -> tuple[list[str], list[torch.Tensor], list[str]]:
    """Every music file (MIDI/MusicXML/ABC/kern) under ``paths`` as a frame roll: (names, rolls (time, 88), one
    line per skipped file: unreadable, no notes on the piano, or shorter than two frames). A bad file never stops
    the others."""
    from studio.music.io.corpus import load_music_files
    from studio.music.pianoroll.frames import midi_to_frames

    pieces, skipped = load_music_files(list(paths))
    names, rolls = [], []
    for name, midi in pieces:
        try:
            roll = midi_to_frames(midi, frames_per_beat)
        except StudioError as err:
            skipped.append(f"{name}: {err}")
            continue
        if not bool(roll.any()):
            skipped.append(f"{name}: no notes on the piano's 88 keys")
            continue
        if roll.shape[0] < 2:
            skipped.append(f"{name}: shorter than two frames")
            continue
        names.append(name)
        rolls.append(roll)
    return names, rolls, skipped


def rolls_from_music(paths: Sequence[str | Path], frames_per_beat: int,
                     valid_fraction: float = 0.1) -> tuple[dict[str, list[torch.Tensor]], list[str]]:
    """A folder (or files) of MIDI/MusicXML/ABC/kern as train/valid frame rolls, split by a hash of each file name.

    Returns the splits and one line per skipped file (``music_rolls``).
    """
    from studio.music.io.corpus import split_pieces

    names, rolls, skipped = music_rolls(paths, frames_per_beat)
    if len(rolls) < 2:
        raise StudioError(f"a piano-roll model needs at least 2 usable pieces (one to validate on); got {len(rolls)}")
    train, valid = split_pieces(names, valid_fraction)
    return {"train": [rolls[i] for i in train], "valid": [rolls[i] for i in valid], "test": []}, skipped


def write_history(out: str | Path, history: list[dict[str, Any]]) -> Path:
    """The run's per-epoch rows as ``out/history.json`` (written beside and renamed, so never half-written)."""
    path = Path(out) / "history.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(history, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    return path


def save_roll_model(result: RollResult, out: str | Path, card: dict[str, Any], dtype: str = "float32") -> Path:
    """Write the selected model as a bundle (``out/model.json`` + ``model.safetensors``) that
    ``studio.music.pianoroll.compose.load_roll_model`` reads.
    ``card`` adds the caller's entries (corpus, command...)."""
    from studio.checkpoint import Bundle, write_bundle
    from studio.loading import DTYPES, PIANO_ROLL

    if dtype not in DTYPES:
        raise StudioError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    weights = {k: v.detach().to("cpu", DTYPES[dtype]).contiguous() for k, v in result.model.state_dict().items()}
    full = {"model_kind": PIANO_ROLL, "model_config": result.model.config.to_dict(),
            "metrics": {"valid_nats_per_frame": result.best_valid, "best_epoch": result.best_epoch,
                        "epochs": result.epochs, "train_seconds": round(result.seconds, 1),
                        "stop_reason": result.stop_reason},
            **card}
    return write_bundle(out, Bundle(card=full, weights=weights))
