"""How strongly a soloist model reads its soloist entry ("in the manner of"): each player's entry shrunk toward none.

A player has 1-7 training solos among 420, so the entry the model learned for them fits those solos more than the
player: at full strength it predicts the player's held-out solos no better than the entry "none" (BENCHMARKS.md,
"The soloist entry"). Drawn part of the way from "none" toward the player (empirical-Bayes shrinkage), it predicts
them better than "none" for most players. The soloist embedding is one input of the LSTM, so the shrunk entry is the
row ``none + strength * (player - none)`` of its table: 0 is "none", 1 the entry as trained, above 1 an exaggeration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from studio.config import check_range

if TYPE_CHECKING:
    import torch

# Chosen on the validation solos (the strength whose own-entry NLL was lowest: 0 / 0.125 / 0.25 / 0.375 / 0.5 / 0.75
# / 1 gave 4.2308 / 4.2289 / 4.2276 / 4.2268 / 4.2265 / 4.2278 / 4.2318 nats per note; BENCHMARKS.md).
DEFAULT_SOLOIST_STRENGTH = 0.5
MAX_SOLOIST_STRENGTH = 2.0


def check_soloist_strength(strength: float) -> None:
    """A StudioError naming the valid range, 0..2, for anything else."""
    check_range("--soloist-strength", strength, 0.0, MAX_SOLOIST_STRENGTH)


def card_soloist_strength(card: Mapping[str, Any]) -> float:
    """The strength a model's card sets (``sampling.soloist_strength``), else ``DEFAULT_SOLOIST_STRENGTH``."""
    value = (card.get("sampling") or {}).get("soloist_strength")
    return DEFAULT_SOLOIST_STRENGTH if value is None else float(value)


def set_soloist_strength(model: torch.nn.Module, strength: float) -> None:
    """Make ``model`` read every player's entry at ``strength`` (in place; rows of the ``soloists`` table).

    The table as trained is kept on the module the first time, so calling this again sets a new strength rather
    than compounding. A model without a soloist input (or with no players) is left as it is.
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
