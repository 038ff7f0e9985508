"""The Write tab: continue a prompt with a text model; sampled text streams in as it is written.

``write_text`` is a generator: in sampling and greedy modes it yields the text as ``Generator.stream`` produces it
(at most every ``STREAM_EVERY`` seconds, so the page is not flooded); beam modes know their best text only at the
end and yield it once, with the n-best list. Every result reports its seed and novelty (the share of its n-grams
absent from the model's training text) and comes as a ``.txt`` download.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from studio.errors import StudioError
from studio.ui import validation as v
from studio.ui.model_cache import TEXT, ModelCache
from studio.ui.widgets import seed_controls
from studio.ui.workspace import new_folder, safe_name

SEARCHES = ("sample", "greedy", "beam", "diverse beam")
LENGTH = (1, 2000)
MAX_PROMPT_CHARS = 4000
TEMPERATURE = (0.05, 2.0)
TOP_K = (0, 1000)
TOP_P = (0.05, 1.0)
REPETITION = (0.5, 2.0)
BEAMS = (2, 16)
GROUPS = (1, 8)
DIVERSITY = (0.0, 5.0)
NBEST = (1, 16)
STREAM_EVERY = 0.08  # seconds between streamed updates
NBEST_HEADERS = ["rank", "logprob", "novelty (%)", "text"]


def _config(search: str, length: int, temperature: float, top_k: int, top_p: float, repetition: float, beams: int,
            groups: int, diversity: float, nbest: int, seed: int):
    from studio.config import GenerationConfig

    common = {"length": length, "repetition_penalty": repetition, "seed": seed}
    if search == "sample":
        return GenerationConfig(temperature=temperature, top_k=top_k, top_p=top_p, **common)
    if search == "greedy":
        return GenerationConfig(greedy=True, **common)
    if nbest > beams:
        raise StudioError(f"the n-best list ({nbest}) cannot be longer than the number of beams ({beams})")
    if search == "beam":
        return GenerationConfig(beams=beams, num_samples=nbest, **common)
    if groups < 2 or beams % groups:
        raise StudioError(f"diverse beam search splits the {beams} beams into equal groups: choose 2 or more groups "
                          f"that divide {beams}")
    return GenerationConfig(beams=beams, beam_groups=groups, diversity=diversity, num_samples=nbest, **common)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def write_text(cache: ModelCache, model: str, prompt: str, length: int, search: str, temperature: float,
               top_k: int, top_p: float, repetition: float, beams: int, groups: int, diversity: float, nbest: int,
               seed: Any) -> Iterator[tuple]:
    """Yield (text so far, n-best rows, info, .txt download or None) until the text is done."""
    prompt = v.text("prompt", prompt, MAX_PROMPT_CHARS)
    length = v.number("length", length, *LENGTH, integer=True)
    search = v.choice("search", search, SEARCHES)
    temperature = v.number("temperature", temperature, *TEMPERATURE)
    top_k = v.number("top-k", top_k, *TOP_K, integer=True)
    top_p = v.number("top-p", top_p, *TOP_P)
    repetition = v.number("repetition penalty", repetition, *REPETITION)
    beams = v.number("beams", beams, *BEAMS, integer=True)
    groups = v.number("beam groups", groups, *GROUPS, integer=True)
    diversity = v.number("diversity", diversity, *DIVERSITY)
    nbest = v.number("n-best", nbest, *NBEST, integer=True)
    seed = v.seed(seed)
    config = _config(search, length, temperature, top_k, top_p, repetition, beams, groups, diversity, nbest, seed)
    generator = cache.generator(model)
    name = safe_name(Path(str(model)).name, "text")
    if search in ("sample", "greedy"):
        text, last, finished = "", 0.0, []
        for piece in generator.stream(prompt, config, on_result=finished.append):
            text += piece
            if time.monotonic() - last >= STREAM_EVERY:
                last = time.monotonic()
                yield text, [], f"writing with **{name}**, seed **{seed}** …", None
        v.warn_all(finished[0].notes)
        novelty = finished[0].novelty[0]
        rows, texts = [], [text]  # one text: no list to show
    else:
        result = generator.generate(prompt, config)
        v.warn_all(result.notes)
        rows = [[i + 1, round(lp, 2), _percent(nov), t]
                for i, (t, lp, nov) in enumerate(zip(result.texts, result.logprobs, result.novelty, strict=True))]
        texts, novelty = result.texts, result.novelty[0]
    download = _write_download(new_folder("write") / f"{name}-{seed}.txt", texts)
    share = "n/a (too short, or the model has no n-gram index)" if novelty is None else f"{100 * novelty:.1f}%"
    info = (f"**{name}**, {search}, seed **{seed}**: novelty {share} of its n-grams are not in the model's "
            "training text.")
    yield texts[0], rows, info, download



def model_help(cache: ModelCache, value: Any) -> str:
    """One line on the chosen text model: its validation loss, and for a fine-tuned one the base model's on the same
    text (the bar it beat); empty for a model the page does not offer."""
    try:
        entry = cache.entry(TEXT, value)
    except StudioError:
        return ""
    card = entry.card
    loss = (card.get("metrics") or {}).get("valid_nats_per_token")
    if not isinstance(loss, (int, float)):
        return f"**{entry.label}**"
    base = (card.get("base_valid") or {}).get("valid_nats_per_token")
    origin = card.get("finetuned_from") or {}
    if isinstance(base, (int, float)) and origin:
        return (f"**{entry.label}**, fine-tuned from {Path(str(origin.get('model'))).name}: validation loss "
                f"{loss:.3f} nats/token on its validation text (the base model scored {base:.3f} on the same text)")
    return f"**{entry.label}**: validation loss {loss:.3f} nats/token"


def _write_download(path: Path, texts: list[str]) -> str:
    if len(texts) == 1:
        body = texts[0]
    else:
        body = "\n\n".join(f"--- result {i + 1} of {len(texts)} ---\n{t}" for i, t in enumerate(texts))
    path.write_text(body + "\n", encoding="utf-8")
    return str(path)


def build(cache: ModelCache) -> dict[str, Any]:
    """Lay out the Write tab (inside an open ``gr.Tab``) and wire its actions; returns its model dropdown."""
    with gr.Row():
        with gr.Column(scale=2):
            first = cache.default(TEXT, "shakespeare")
            model = gr.Dropdown(cache.choices(TEXT), value=first, label="Model", allow_custom_value=True,
                                elem_id="write-model")
            about = gr.Markdown(model_help(cache, first), elem_id="write-model-help")
            prompt = gr.Textbox(value="ROMEO:", lines=3, label="Prompt", max_length=MAX_PROMPT_CHARS)
            length = gr.Slider(*LENGTH, value=500, step=1, label="Length (tokens)", elem_id="write-length")
            search = gr.Radio(list(SEARCHES), value="sample", label="Search",
                              info="sample and greedy stream as they write; beams show an n-best list at the end")
        with gr.Column(scale=1):
            temperature = gr.Slider(*TEMPERATURE, value=0.8, step=0.05, label="Temperature", info="sample only")
            top_k = gr.Slider(*TOP_K, value=0, step=1, label="Top-k", info="sample only; 0: off")
            top_p = gr.Slider(*TOP_P, value=1.0, step=0.01, label="Top-p", info="sample only; 1: off")
            repetition = gr.Slider(*REPETITION, value=1.0, step=0.05, label="Repetition penalty", info="1: off")
    with gr.Accordion("Beam search", open=False), gr.Row():
        beams = gr.Slider(*BEAMS, value=4, step=1, label="Beams")
        groups = gr.Slider(*GROUPS, value=2, step=1, label="Groups", info="diverse beam")
        diversity = gr.Slider(*DIVERSITY, value=0.5, step=0.05, label="Diversity", info="diverse beam")
        nbest = gr.Slider(*NBEST, value=3, step=1, label="n-best list")
    with gr.Row():
        seed, dice = seed_controls("write-seed")
        go = gr.Button("Write", variant="primary", elem_id="write-go")
    output = gr.Textbox(label="Text", lines=12, max_lines=30, interactive=False, elem_id="write-output",
                        buttons=["copy"])
    with gr.Row():
        info = gr.Markdown(elem_id="write-info")
        download = gr.File(label="Download (.txt)", interactive=False, elem_id="write-download")
    nbest_list = gr.Dataframe(headers=NBEST_HEADERS, label="n-best list (beam searches)", interactive=False,
                              wrap=True, column_widths=["6%", "8%", "10%", "76%"])

    dice.click(v.random_seed, None, seed, api_name="write_random_seed", concurrency_limit=None)
    model.change(lambda value: model_help(cache, value), model, about, api_name="write_model_help",
                 concurrency_limit=None)

    @v.user_errors
    def write(model: str, prompt: str, length: int, search: str, temperature: float, top_k: int, top_p: float,
              repetition_penalty: float, beams: int, groups: int, diversity: float, nbest: int,
              seed: Any) -> Iterator[tuple]:
        yield from write_text(cache, model, prompt, length, search, temperature, top_k, top_p, repetition_penalty,
                              beams, groups, diversity, nbest, seed)

    go.click(write, [model, prompt, length, search, temperature, top_k, top_p, repetition, beams, groups, diversity,
                     nbest, seed], [output, nbest_list, info, download], api_name="write")
    return {"model": model}
