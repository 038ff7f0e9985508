"""How strongly a soloist model reads its soloist entry ("in the manner of"): each player's entry shrunk toward none.

A player has 1-7 training solos among 420. At full strength the entry the model learned for them predicts their
held-out solos better than the entry "none" for only about half the players (17 of 31 on test; BENCHMARKS.md, "The
soloist entry"); drawn part of the way from "none" toward the player (shrinkage toward the population, as in
empirical Bayes), it does so for most (21 of 31). The soloist embedding is one input of the LSTM, so the shrunk
entry is the row ``none + strength * (player - none)`` of its table: 0 is "none", 1 the entry as trained, above 1 an
exaggeration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from studio.config import check_range

if TYPE_CHECKING:
    import torch

# A model whose card sets no strength reads its entries as trained. The shipped soloist's card sets 0.5, chosen on
# its validation solos (the lowest own-entry NLL: 0 / 0.125 / 0.25 / 0.375 / 0.5 / 0.75 / 1 gave 4.2308 / 4.2289 /
# 4.2276 / 4.2268 / 4.2265 / 4.2278 / 4.2318 nats per note; BENCHMARKS.md); another model needs its own choice.
DEFAULT_SOLOIST_STRENGTH = 1.0
MAX_SOLOIST_STRENGTH = 2.0


def check_soloist_strength(strength: float) -> None:
    """A StudioError naming the valid range, 0..2, for anything else."""
    check_range("--soloist-strength", strength, 0.0, MAX_SOLOIST_STRENGTH)


def card_soloist_strength(card: Mapping[str, Any]) -> float:
    """The strength a model's card sets (``sampling.soloist_strength``), else ``DEFAULT_SOLOIST_STRENGTH``."""
    value = (card.get("sampling") or {}).get("soloist_strength")
    return DEFAULT_SOLOIST_STRENGTH if value is None else float(value)


def apply_soloist_strength(model: torch.nn.Module, card: Mapping[str, Any], strength: float | None = None) -> float:
    """Set ``model`` to ``strength``, or to the one its ``card`` sets when None; returns the strength it now reads."""
    strength = card_soloist_strength(card) if strength is None else strength
    set_soloist_strength(model, strength)
    return strength


def set_soloist_strength(model: torch.nn.Module, strength: float) -> None:
    """Make ``model`` read every player's entry at ``strength`` (in place; rows of the ``soloists`` table).

    The table as trained is kept on the module the first time, so calling this again sets a new strength rather
    than compounding; call it before a ``StepperCache`` copies the weights (a half-precision stepper keeps its own
    copy). A model without a soloist input (or with no players) is left as it is.
    """
    check_soloist_strength(strength)
    tables = getattr(model, "condition_tables", None)
    table = tables["soloists"] if tables is not None and "soloists" in tables else None
    if table is None or table.num_embeddings < 2:
        return
    if not hasattr(table, "trained_weight"):
        table.register_buffer("trained_weight", table.weight.detach().clone(), persistent=False)
    trained = table.trained_weight  # (players + 1, width); row 0 is "none"
    import torch  # here: the page reads this module's constants without loading torch

    with torch.no_grad():
        table.weight.copy_(trained[:1] + strength * (trained - trained[:1]))
