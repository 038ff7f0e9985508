"""The Models tab: every shipped and local model with its one-line summary, and any model's whole card."""

from __future__ import annotations

from typing import Any

import gradio as gr

from studio.ui.model_cache import ModelCache

TABLE_HEADERS = ["model", "origin", "kind", "summary", "folder"]
KIND_NAMES = {"text": "text", "leadsheet": "blues (lead sheet)", "polyphonic": "polyphonic (REMI)",
              "piano_roll": "piano roll (harmoniser)", "jazz": "jazz soloist", "trade": "call and response",
              "draw": "DRAW (sketches)", "memory_task": "memory task (NTM or LSTM)"}


def model_table(cache: ModelCache) -> list[list[str]]:
    """One row per model: value, origin, kind, ``studio.loading.describe`` summary, bundle folder."""
    from studio.loading import describe

    return [[e.value, e.origin, KIND_NAMES.get(e.kind, e.kind), describe(e.card), str(e.path)]
            for e in cache.entries()]


def model_card(cache: ModelCache, value: Any) -> dict[str, Any]:
    """A model's card as shown to people: the tokenizer's vocabulary is summarised, not dumped."""
    from studio.errors import StudioError

    for entry in cache.entries():
        if entry.value == value:
            card = dict(entry.card)
            if "tokenizer" in card:  # piano-roll models have none
                card["tokenizer"] = {"kind": card["tokenizer"].get("kind"),
                                     "vocab_size": card.get("model_config", {}).get("vocab_size")}
            return card
    raise StudioError(f"unknown model {value!r}; see the list above")


def all_choices(cache: ModelCache) -> list[tuple[str, str]]:
    return [(f"{e.label} · {KIND_NAMES.get(e.kind, e.kind)}", e.value) for e in cache.entries()]


def build(cache: ModelCache) -> dict[str, Any]:
    """Lay out the Models tab (inside an open ``gr.Tab``) and wire its actions; returns its components."""
    from studio.ui import validation as v

    table = gr.Dataframe(value=model_table(cache), headers=TABLE_HEADERS, label="Models", interactive=False,
                         wrap=True)
    with gr.Row():
        choices = all_choices(cache)
        pick = gr.Dropdown(choices, value=choices[0][1] if choices else None, label="Model card",
                           allow_custom_value=True)
        refresh = gr.Button("Refresh", size="sm")
    card = gr.JSON(label="Card")

    @v.user_errors
    def show_card(value: str) -> dict[str, Any]:
        return model_card(cache, value) if value else {}

    def list_models() -> tuple:
        return model_table(cache), gr.update(choices=all_choices(cache))

    pick.change(show_card, pick, card, api_name="model_card", concurrency_limit=None)
    refresh.click(list_models, None, [table, pick], api_name="list_models", concurrency_limit=None)
    return {"model": pick, "table": table, "card": card, "show_card": show_card}
