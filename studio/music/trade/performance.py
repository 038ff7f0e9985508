"""An exchange performed and shown: the call and every answer on tracks of their own over the band, and a picture
of where each answer note looked in the call."""

from __future__ import annotations

import os
from collections.abc import Mapping

import pretty_midi

from studio.music.band.render import render_midi
from studio.music.io.export import atomic_path
from studio.music.jazz.corpus import TICKS_PER_BAR
from studio.music.jazz.performance import solo_instrument, straight_eighth_place
from studio.music.theory.chords import NOTE_NAMES, ChordChart, LeadSheet
from studio.music.trade.responder import TradeResult

CALL_PROGRAM, RESPONSE_PROGRAM = 65, 66  # alto sax calls, tenor sax answers


def perform_trade(result: TradeResult, chart: ChordChart, tempo: float, *, bass_style: str = "walking",
                  comping_instrument: str = "piano", parts: Mapping[str, bool] | None = None, seed: int = 0,
                  meta: Mapping[str, object] | None = None) -> pretty_midi.PrettyMIDI:
    """The band over every bar of the exchange, with a ``call`` track (the first call) and a ``response`` track
    (every answer, each over its bars)."""
    bars = result.rounds[-1].start_bar + result.params["bars"]
    written = ChordChart([chart.bars[bar % chart.num_bars] for bar in range(bars)])
    band = {**dict(parts or {}), "lead": False}
    eighth = straight_eighth_place(tempo)
    midi = render_midi(LeadSheet([], written, tempo), tempo=tempo, swing=eighth, choruses=1, bass_style=bass_style,
                       comping_instrument=comping_instrument, parts=band, seed=seed,
                       meta={**dict(meta or {}), **result.params})
    call = solo_instrument(result.rounds[0].call, tempo, "call", CALL_PROGRAM, 0, eighth)
    response = solo_instrument([], tempo, "response", RESPONSE_PROGRAM)
    for exchange in result.rounds:
        response.notes += solo_instrument(exchange.answer, tempo, "response", RESPONSE_PROGRAM, exchange.start_bar,
                                          eighth).notes
    midi.instruments[:0] = [call, response]
    return midi


def note_name(pitch: int) -> str:
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def attention_png(result: TradeResult, path: str | os.PathLike[str], title: str = "") -> str | None:
    """A heat map per round of the attention of answer notes (rows) on call notes (columns), note names on the
    axes; None when the model has no attention (the ablation's other bridges)."""
    rounds = [r for r in result.rounds if r.attention]
    if not rounds:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rounds), figsize=(max(5.0, 0.22 * sum(len(r.call) for r in rounds) + 2.5), 5.5),
                             squeeze=False)
    for ax, exchange in zip(axes[0], rounds, strict=True):
        image = ax.imshow(exchange.attention, aspect="auto", cmap="magma", vmin=0.0)
        ax.set_xticks(range(len(exchange.call)), [note_name(n.pitch) for n in exchange.call], rotation=90, fontsize=6)
        ax.set_yticks(range(len(exchange.answer)), [note_name(n.pitch) for n in exchange.answer], fontsize=6)
        ax.set_xlabel(f"call (bars {exchange.start_bar - result.params['bars'] + 1}-{exchange.start_bar})")
        ax.set_ylabel(f"answer (bars {exchange.start_bar + 1}-{exchange.start_bar + result.params['bars']})")
        reuse = exchange.motif_reuse
        ax.set_title(f"motifs from the call: {'n/a' if reuse is None else f'{reuse:.0%}'}", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.04)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return str(path)


__all__ = ["TICKS_PER_BAR", "attention_png", "note_name", "perform_trade"]
