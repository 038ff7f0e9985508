"""The models the page offers, and the loaded ones, kept between requests.

A model is offered by the value its dropdown sends: a shipped model's name (``blues``) or a local run folder
(``runs/letters``, found by ``studio.loading.local_models``). Handlers accept only offered values, so an API client
cannot make the server load an arbitrary path. Models load on first use and stay loaded (least recently used first
out beyond ``max_loaded``); a model whose card changed on disk (retrained, fine-tuned again) is loaded afresh.
Loaded ``Generator``, ``Composer``, ``Soloist``, ``Responder``, ``RollModel`` and ``Draw`` objects are shared by
concurrent requests: they hold no per-request state.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.errors import StudioError

TEXT, LEADSHEET, POLYPHONIC, PIANO_ROLL, JAZZ, TRADE = "text", "leadsheet", "polyphonic", "piano_roll", "jazz", "trade"
DRAW, MEMORY = "draw", "memory_task"
KINDS = (TEXT, LEADSHEET, POLYPHONIC, PIANO_ROLL, JAZZ, TRADE, DRAW, MEMORY)
KIND_WORDS = {TEXT: "text", LEADSHEET: "blues (lead-sheet)", POLYPHONIC: "polyphonic", PIANO_ROLL: "piano-roll",
              JAZZ: "jazz soloist", TRADE: "call-and-response", DRAW: "DRAW", MEMORY: "memory-task"}
MAX_VARIANTS = 3  # loaded variants of one model at a time (least recently used go first)


@dataclass(frozen=True)
class ModelEntry:
    """One model the page can use."""

    value: str      # what the dropdowns send: a shipped name or a run folder
    label: str      # what people see
    origin: str     # shipped or local
    kind: str       # text, leadsheet, polyphonic, piano_roll, jazz, trade, draw or memory_task
    path: Path      # the bundle folder (holding model.json)
    card: dict[str, Any]

    def short_name(self, default: str = "model") -> str:
        """The model's short name for file names and messages (a shipped name, or a run folder's last part)."""
        from studio.ui.workspace import safe_name

        return safe_name(Path(str(self.value)).name, default)


class ModelCache:
    """Lists shipped and local models by kind, and loads them lazily, once.

    Parameters
    ----------
    runs_dir : str or Path
        Folder of local training runs (``studio.loading.local_models``); the Train tab writes new models here.
    max_loaded : int
        Models kept loaded at once.
    """

    def __init__(self, runs_dir: str | Path = "runs", max_loaded: int = 8) -> None:
        self.runs_dir = Path(runs_dir)
        self.max_loaded = max_loaded
        self._lock = threading.RLock()
        self._cards: dict[Path, tuple[float, dict[str, Any]]] = {}
        # (kind, bundle folder, card mtime, variant: e.g. a soloist's entry strength) -> the loaded model
        self._loaded: OrderedDict[tuple[str, str, float, Any], Any] = OrderedDict()

    # -- the catalogue ------------------------------------------------------------------------------------------
    def entries(self) -> list[ModelEntry]:
        """Every readable model: shipped first, then local runs (unreadable cards are left out)."""
        from studio.loading import local_models, shipped_models

        found = [("shipped", name, name, path) for name, path in shipped_models().items()]
        found += [("local", f"{name} (local)", str(self.runs_dir / name), path)
                  for name, path in local_models(self.runs_dir).items()]
        entries = []
        for origin, label, value, path in found:
            card = self._card(path)
            if card is not None:
                kind = card.get("model_kind") or TEXT
                entries.append(ModelEntry(value, label, origin, kind if kind in KINDS else TEXT, path, card))
        return entries

    def choices(self, kind: str | tuple[str, ...], kind_labels: dict[str, str] | None = None
                ) -> list[tuple[str, str]]:
        """(label, value) pairs for a dropdown of ``kind`` models (a tuple: any of those kinds); with
        ``kind_labels`` each label also says its model's kind ("jsb · piano-roll harmoniser")."""
        kinds = _kinds(kind)
        return [(f"{e.label} · {kind_labels[e.kind]}" if kind_labels else e.label, e.value)
                for e in self.entries() if e.kind in kinds]

    def default(self, kind: str | tuple[str, ...], preferred: str) -> str | None:
        """``preferred`` when it is offered, else the first model of ``kind``, else None."""
        values = [value for _, value in self.choices(kind)]
        return preferred if preferred in values else (values[0] if values else None)

    def entry(self, kind: str | tuple[str, ...], value: Any) -> ModelEntry:
        """The offered model ``value`` of ``kind`` (a tuple: any of those kinds); a StudioError naming the choices
        otherwise."""
        kinds = _kinds(kind)
        entries = [e for e in self.entries() if e.kind in kinds]
        for e in entries:
            if e.value == value:
                return e
        names = ", ".join(e.value for e in entries) or "none yet"
        what = " or ".join(KIND_WORDS[k] for k in kinds)
        raise StudioError(f"unknown {what} model {value!r}; the page offers: {names}")

    def _card(self, path: Path) -> dict[str, Any] | None:
        from studio.checkpoint import CARD_FILE, read_card

        try:
            mtime = (path / CARD_FILE).stat().st_mtime
            with self._lock:
                cached = self._cards.get(path)
                if cached is not None and cached[0] == mtime:
                    return cached[1]
            card = read_card(path)
        except (OSError, StudioError):
            return None
        with self._lock:
            self._cards[path] = (mtime, card)
        return card

    # -- loading ------------------------------------------------------------------------------------------------
    def generator(self, value: Any):
        """The loaded ``studio.text.generator.Generator`` of text model ``value``."""
        from studio.text.generator import Generator

        entry = self.entry(TEXT, value)
        return self._load(entry, lambda: Generator(entry.path))

    def composer(self, value: Any):
        """The loaded ``studio.music.leadsheet.composer.Composer`` of blues (lead-sheet) model ``value``."""
        from studio.music.leadsheet.composer import Composer

        entry = self.entry(LEADSHEET, value)
        return self._load(entry, lambda: Composer(entry.path))

    def soloist(self, value: Any, strength: float | None = None):
        """The loaded ``studio.music.jazz.soloist.Soloist`` of jazz model ``value``, reading its soloist entries at
        ``strength`` (None: the model's own); one instance per strength, since it is set in the weights."""
        from studio.music.jazz.entries import card_soloist_strength
        from studio.music.jazz.soloist import Soloist

        entry = self.entry(JAZZ, value)
        strength = card_soloist_strength(entry.card) if strength is None else float(strength)
        return self._load(entry, lambda: Soloist(entry.path, soloist_strength=strength), variant=strength)

    def responder(self, value: Any):
        """The loaded ``studio.music.trade.responder.Responder`` of call-and-response model ``value``."""
        from studio.music.trade.responder import Responder

        entry = self.entry(TRADE, value)
        return self._load(entry, lambda: Responder(entry.path))

    def roll_model(self, value: Any):
        """The loaded ``studio.music.pianoroll.compose.RollModel`` of piano-roll model ``value``."""
        from studio.music.pianoroll.compose import load_roll_model

        entry = self.entry(PIANO_ROLL, value)
        return self._load(entry, lambda: load_roll_model(entry.path))

    def drawer(self, value: Any):
        """The loaded ``studio.models.draw.Draw`` of DRAW model ``value`` (eval mode)."""
        from studio.sketch.training import load_draw

        entry = self.entry(DRAW, value)
        return self._load(entry, lambda: load_draw(entry.path)[0])

    def _load(self, entry: ModelEntry, build: Any, variant: Any = None) -> Any:
        from studio.checkpoint import CARD_FILE

        try:
            mtime = (entry.path / CARD_FILE).stat().st_mtime
        except OSError as err:
            raise StudioError(f"model {entry.value} is gone from {entry.path}") from err
        key = (entry.kind, str(entry.path), mtime, variant)
        with self._lock:  # loading under the lock: two first requests for one model load it once
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
            for old in [k for k in self._loaded if k[:2] == key[:2] and k[2] != mtime]:  # an older version of it
                del self._loaded[old]
            # Variants of one model (a soloist at several strengths) take at most MAX_VARIANTS places, so a person
            # walking a slider does not push the other tabs' models out.
            variants = [k for k in self._loaded if k[:3] == key[:3]]
            for old in variants[:max(0, len(variants) - MAX_VARIANTS + 1)]:
                del self._loaded[old]
            model = build()
            self._loaded[key] = model
            while len(self._loaded) > self.max_loaded:
                self._loaded.popitem(last=False)
            return model

    def loaded(self) -> list[str]:
        """Bundle folders of the models loaded now (for reports)."""
        with self._lock:
            return [key[1] for key in self._loaded]


def _kinds(kind: str | tuple[str, ...]) -> tuple[str, ...]:
    return (kind,) if isinstance(kind, str) else tuple(kind)
