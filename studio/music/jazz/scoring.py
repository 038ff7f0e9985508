"""Score solos as the literature does: negative log-likelihood of the whole melody given its changes, per note.

``nats_per_note`` is the NLL of every token the soloist emits for a solo (what to play, pitch or rest, and how long)
divided by the number of notes, so it does not depend on how rests and timing are encoded; it splits into a
``pitch`` part (the choice of pitch of each note) and a ``timing`` part (every length, and where rests fall). Each
solo is scored from a fresh state, as one stream, with the inputs a person would give (style, soloist, form,
tempo) unless told to leave some out.

``nats_per_event`` divides the same sum by the events, notes and rests, as the published anchors count (BebopNet
and MINGUS: nats per event, rests included, Madaghiele et al. 2021); it sits beside the figure per note so the two
can be compared on one unit, not in place of it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from studio.config import check_range
from studio.music.jazz.corpus import Solo
from studio.music.jazz.tokenizer import CONDITIONS, JazzEvents, JazzTokenizer


@dataclass
class SoloScore:
    """One solo's NLL in nats: ``pitch`` + ``timing`` = ``total``, over ``notes`` notes and ``rests`` rests."""

    id: str
    notes: int
    pitch: float
    timing: float
    rests: int

    @property
    def total(self) -> float:
        return self.pitch + self.timing


def encode_all(solos: Sequence[Solo], tokenizer: JazzTokenizer, style: bool = True, soloist: bool = True,
               form: bool = True, tempo: bool = True) -> list[JazzEvents]:
    return [tokenizer.encode(s, style=style, soloist=soloist, form=form, tempo=tempo) for s in solos]


@torch.inference_mode()
def token_nll(model: torch.nn.Module, encoded: Sequence[JazzEvents], batch: int = 16,
              device: torch.device | str = "cpu") -> list[torch.Tensor]:
    """Per-token NLL (nats) of each encoded solo's tokens 1..n-1 (BOS is given), shape (n - 1,) each."""
    out: list[torch.Tensor] = []
    for start in range(0, len(encoded), batch):
        chunk = encoded[start:start + batch]
        width = max(len(e) for e in chunk)
        tokens = torch.zeros(len(chunk), width, dtype=torch.long)
        conds = {name: torch.zeros(len(chunk), width, dtype=torch.long) for name in CONDITIONS}
        for row, e in enumerate(chunk):
            tokens[row, : len(e)] = torch.tensor(e.tokens)
            for name in CONDITIONS:
                conds[name][row, : len(e)] = torch.tensor(e.conditions[name])
        # The model reads token t with the conditions of token t + 1, the one it predicts.
        inputs = tokens[:, :-1].to(device)
        kwargs = {name: c[:, 1:].to(device) for name, c in conds.items()}
        logits, _ = model(inputs, **kwargs)
        nll = F.cross_entropy(logits.float().transpose(1, 2), tokens[:, 1:].to(device), reduction="none").cpu()
        out += [nll[row, : len(e) - 1] for row, e in enumerate(chunk)]
    return out


def dynamic_token_nll(model: torch.nn.Module, encoded: Sequence[JazzEvents], lr: float, segment: int = 8,
                      device: torch.device | str = "cpu") -> list[torch.Tensor]:
    """Per-token NLL (nats) with dynamic evaluation (Krause et al. 2018), shape (n - 1,) per solo as ``token_nll``.

    The solo is read in segments of ``segment`` tokens; each segment is scored first, then the model takes one SGD step
    (``lr``) on that segment's loss, so a motif the player has stated is likelier when it returns. Every token is still
    predicted before it is seen: the figure is a proper sequential likelihood, but not the static one the literature
    reports, so it is always shown beside it. Each solo starts again from ``model``'s weights; ``model`` is not changed.
    """
    check_dynamic(lr, segment)
    # Callers may score under inference mode; cuDNN's LSTM backward refuses a model in eval mode, so off with it.
    with torch.inference_mode(False), torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
        return _dynamic_token_nll(model, encoded, lr, segment, device)


def check_dynamic(lr: float, segment: int = 8) -> None:
    """A StudioError naming the valid range of dynamic evaluation's rate, (0, 1], or segment (>= 1 token)."""
    check_range("--dynamic-lr", lr, 0.0, 1.0, low_open=True)
    check_range("--dynamic-segment", segment, 1, integer=True)


def _dynamic_token_nll(model: torch.nn.Module, encoded: Sequence[JazzEvents], lr: float, segment: int,
                       device: torch.device | str) -> list[torch.Tensor]:
    base = copy.deepcopy(model).float().to(device)
    base.eval()  # no dropout: the updates, not noise, are what is measured
    out: list[torch.Tensor] = []
    for events in encoded:
        adapted = copy.deepcopy(base)
        optimiser = torch.optim.SGD(adapted.parameters(), lr=lr)
        tokens = torch.tensor(events.tokens, device=device)[None]
        conds = {name: torch.tensor(events.conditions[name], device=device)[None] for name in CONDITIONS}
        state, pieces = None, []
        for start in range(0, tokens.shape[1] - 1, segment):
            end = min(tokens.shape[1] - 1, start + segment)
            window = {name: c[:, start + 1:end + 1] for name, c in conds.items()}
            logits, state = adapted(tokens[:, start:end], state, **window)
            nll = F.cross_entropy(logits.transpose(1, 2), tokens[:, start + 1:end + 1], reduction="none")[0]
            pieces.append(nll.detach().cpu())
            optimiser.zero_grad()
            nll.mean().backward()
            optimiser.step()
            state = tuple(part.detach() for part in state)  # truncated backpropagation: one segment at a time
        out.append(torch.cat(pieces))
    return out


def split_parts(events: JazzEvents, nll: torch.Tensor, tokenizer: JazzTokenizer, solo_id: str) -> SoloScore:
    """Sum a solo's per-token NLL (tokens 1..n-1) into its pitch part (the pitch of each note) and the rest."""
    targets = torch.tensor(events.tokens[1:])
    pitch = (targets != tokenizer.REST) & (targets < tokenizer.first_length) & (targets != tokenizer.BOS)
    rests = int((targets == tokenizer.REST).sum())
    return SoloScore(solo_id, events.notes, float(nll[pitch].sum()), float(nll[~pitch].sum()), rests)


def score_solos(model: torch.nn.Module, tokenizer: JazzTokenizer, solos: Sequence[Solo], style: bool = True,
                soloist: bool = True, form: bool = True, device: torch.device | str = "cpu",
                tempo: bool = True, dynamic_lr: float = 0.0, dynamic_segment: int = 8) -> list[SoloScore]:
    """Each solo's pitch and timing NLL under ``model`` (in eval mode), with the chosen inputs given.

    ``dynamic_lr`` > 0 scores with dynamic evaluation (``dynamic_token_nll``) instead of the static model.
    """
    model.eval()
    encoded = encode_all(solos, tokenizer, style, soloist, form, tempo)
    if dynamic_lr > 0:
        nlls = dynamic_token_nll(model, encoded, dynamic_lr, dynamic_segment, device=device)
    else:
        nlls = token_nll(model, encoded, device=device)
    return [split_parts(e, nll, tokenizer, s.id) for s, e, nll in zip(solos, encoded, nlls, strict=True)]


def summary(scores: Sequence[SoloScore]) -> dict[str, float | int]:
    """Corpus figures: NLL per note over all notes (a long solo weighs by its notes), its two parts, and the NLL
    per event (notes and rests)."""
    notes = sum(s.notes for s in scores)
    if not notes:
        return {"solos": len(scores), "notes": 0}
    nats, events = sum(s.total for s in scores), notes + sum(s.rests for s in scores)
    return {"solos": len(scores), "notes": notes, "nats_per_note": nats / notes,
            "pitch_nats_per_note": sum(s.pitch for s in scores) / notes,
            "timing_nats_per_note": sum(s.timing for s in scores) / notes,
            "events": events, "nats_per_event": nats / events}
