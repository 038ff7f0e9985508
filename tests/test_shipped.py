"""The shipped models: present, loadable, within their size limits, and as good as their cards say."""

from __future__ import annotations

from studio.config import GenerationConfig
from studio.loading import describe, load_model, shipped_models
from studio.text.generator import Generator
from studio.text.ngrams import corpus_index


def test_shakespeare_is_shipped_small_and_documented() -> None:
    path = shipped_models()["shakespeare"]
    weights = path / "model.safetensors"
    assert weights.stat().st_size <= 15 * 1024 * 1024
    loaded = load_model("shakespeare")
    card = loaded.card
    assert card["weights"]["dtype"] == "float16"
    assert card["tokenizer"]["kind"] == "char"
    assert card["metrics"]["valid_nats_per_token"] <= 1.45
    assert card["evaluation"]["valid_nats_per_token"] <= 1.45
    assert "studio train text" in card["command"]
    assert card["corpus"]["sha256"]


def test_shakespeare_writes_play_like_text() -> None:
    generator = Generator("shakespeare")
    result = generator.generate("ROMEO:", GenerationConfig(length=300, temperature=0.6, num_samples=2, seed=3))
    assert len(result.texts) == 2
    for text in result.texts:
        assert text.startswith("ROMEO:")
        words = text.split()
        assert len(words) > 30
        # A trained model writes mostly real words; an untrained one writes noise.
        common = {"the", "and", "to", "of", "i", "my", "a", "you", "that", "in", "is", "not", "with", "me", "be"}
        assert sum(w.lower().strip(",.;:!?'") in common for w in words) >= 5
    assert result.texts[0] != result.texts[1]


def test_prose_is_shipped_small_and_documented() -> None:
    path = shipped_models()["prose"]
    assert (path / "model.safetensors").stat().st_size <= 15 * 1024 * 1024
    assert (path / "ngrams.safetensors").stat().st_size <= 4 * 1024 * 1024
    loaded = load_model("prose")
    card = loaded.card
    assert card["tokenizer"]["kind"] == "bpe" and card["weights"]["dtype"] == "float16"
    assert loaded.tokenizer.unk_id is not None  # WikiText's <unk> marker is one token, so it can be banned
    assert card["evaluation"]["test_word_perplexity"] < 200
    index = corpus_index(loaded.extras)
    assert index is not None and index.n == 4


def test_prose_writes_readable_prose() -> None:
    generator = Generator("prose")
    result = generator.generate("The history of the city", GenerationConfig(length=150, num_samples=4, seed=2,
                                                                             temperature=1.0))
    for text in result.texts:
        assert "<unk>" not in text and "@-@" not in text and " @" not in text
        assert " ," not in text and " ." not in text  # detokenized: no space before punctuation
        assert sum(w.strip(",.") in {"the", "of", "and", "in", "a", "to", "was"} for w in text.split()) >= 5


def test_blues_is_shipped_and_improvises_in_the_blues() -> None:
    from studio.music.leadsheet.composer import Composer, ComposeRequest
    from studio.music.theory.chords import blues_chart

    path = shipped_models()["blues"]
    assert (path / "model.safetensors").stat().st_size <= 15 * 1024 * 1024
    composer = Composer("blues")
    card = composer.loaded.card
    assert card["model_kind"] == "leadsheet" and card["weights"]["dtype"] == "float16"
    assert "train leadsheet" in card["command"] and card["metrics"]["valid_nats_per_token"] > 0
    pieces = composer.compose(ComposeRequest(blues_chart("12-bar", "Bb"), choruses=2,
                                             config=GenerationConfig(temperature=0.9, num_samples=6, seed=11)))
    metrics = [composer.metrics(p.sheet) for p in pieces]
    notes = sum(len(p.sheet.melody) for p in pieces)
    assert notes > 6 * 2 * 12  # more than a note a bar: it plays
    blues = sum(m["blues_share"] * len(p.sheet.melody) for m, p in zip(metrics, pieces, strict=True)) / notes
    assert blues >= 0.85  # (the benchmark measures >= 90% over many choruses; a tolerance for a small sample)
    assert sum(m["novelty"] for m in metrics) / len(metrics) >= 0.85


def test_chorale_is_shipped_and_continues_a_primer(tmp_path) -> None:
    from studio.music.remi.training import continue_primer

    path = shipped_models()["chorale"]
    assert (path / "model.safetensors").stat().st_size <= 15 * 1024 * 1024
    pieces = continue_primer("chorale", None, 300, GenerationConfig(temperature=0.9, num_samples=2, seed=3))
    for piece in pieces:
        notes = [n for inst in piece.midi.instruments for n in inst.notes]
        assert len(notes) > 20
        assert all(30 <= n.pitch <= 90 for n in notes)  # a choir's range


def test_jsb_is_shipped_tested_and_harmonises_in_key() -> None:
    """The piano-roll harmoniser: its card's test figure holds on the shipped fp16 weights (when ../shared has the
    data), and the soprano of BWV 66.6 (F-sharp minor) gets voices below it, in its key, in a choir's range."""
    import collections
    import copy
    from pathlib import Path

    import pytest
    from music21 import corpus, stream

    from studio.music.io.midi import score_to_midi
    from studio.music.pianoroll.compose import RollRequest, compose_rolls, load_roll_model
    from studio.music.pianoroll.training import evaluate_rolls, load_splits

    path = shipped_models()["jsb"]
    assert (path / "model.safetensors").stat().st_size <= 2 * 1024 * 1024
    model = load_roll_model("jsb")
    assert model.card["weights"]["dtype"] == "float16" and "scripts/train-jsb.sh" in model.card["command"]
    assert model.card["metrics"]["test_nats_per_frame"] <= 8.3  # the goal; Chung et al.: GRU 8.54
    assert model.model.reads_frame  # drawn from the top key down: the voices hear the melody note they harmonise
    data = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "polyphonic" / "json" / "jsb_chorales.json"
    if data.exists():
        test = evaluate_rolls(model.model, load_splits(data)["test"])
        assert test == pytest.approx(model.card["metrics"]["test_nats_per_frame"], abs=1e-3)

    soprano = score_to_midi(stream.Score([copy.deepcopy(corpus.parse("bach/bwv66.6").parts[0])]))
    pieces = compose_rolls(model, RollRequest(num_samples=4, seed=11), melody=soprano)
    f_sharp_minor = {6, 8, 9, 11, 1, 2, 4, 5}  # with E-sharp, the leading tone
    for piece in pieces:
        harmony = [n for inst in piece.midi.instruments if inst.name == "harmony" for n in inst.notes]
        classes = collections.Counter(n.pitch % 12 for n in harmony)
        assert len(harmony) >= 30
        assert sum(classes[pc] for pc in f_sharp_minor) >= 0.8 * len(harmony)
        assert all(33 <= n.pitch <= 80 for n in harmony)
        assert int(piece.roll.sum(1).max()) <= 4


def test_folk_is_shipped_tested_and_puts_chords_under_a_tune() -> None:
    """The Nottingham folk model: its card's test figure holds on the shipped fp16 weights (when ../shared has the
    data), and an air from music21's corpus (G major, 6/8) gets chords under it, in G, below the tune."""
    import collections
    from pathlib import Path

    import pytest
    from music21 import corpus

    from studio.music.io.midi import score_to_midi
    from studio.music.pianoroll.compose import RollRequest, compose_rolls, load_roll_model
    from studio.music.pianoroll.training import evaluate_rolls, load_splits

    path = shipped_models()["folk"]
    assert (path / "model.safetensors").stat().st_size <= 2 * 1024 * 1024
    model = load_roll_model("folk")
    assert model.card["weights"]["dtype"] == "float16" and "scripts/train-folk.sh" in model.card["command"]
    assert model.frames_per_beat == 2 and model.model.reads_frame
    assert model.card["metrics"]["test_nats_per_frame"] <= 3.0  # the Nottingham goal
    data = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "polyphonic" / "json" / "nottingham.json"
    if data.exists():
        test = evaluate_rolls(model.model, load_splits(data)["test"])
        assert test == pytest.approx(model.card["metrics"]["test_nats_per_frame"], abs=1e-3)

    air = score_to_midi(corpus.parse("airdsAirs/book1.abc", number=5))  # "The Lady's play thing", G major
    pieces = compose_rolls(model, RollRequest(num_samples=3, seed=4, max_notes=4, min_notes=4), melody=air)
    g_major = {7, 9, 11, 0, 2, 4, 6}
    for piece in pieces:
        tune = [n for inst in piece.midi.instruments if inst.name == "melody" for n in inst.notes]
        chords = [n for inst in piece.midi.instruments if inst.name == "harmony" for n in inst.notes]
        classes = collections.Counter(n.pitch % 12 for n in chords)
        assert len(chords) >= 20
        assert sum(classes[pc] for pc in g_major) >= 0.85 * len(chords)
        for chord_note in chords:  # under the tune note sounding as it starts
            over = [n for n in tune if n.start <= chord_note.start + 1e-6 < n.end]
            assert all(chord_note.pitch < n.pitch for n in over)
        beat = 60 / piece.params["tempo"]
        assert any(abs(n.start / beat * 2 - round(n.start / beat * 2)) < 1e-3 and round(n.start / beat * 2) % 2
                   for n in chords)  # some chords change on an off-beat eighth: the frames are eighths
        assert int(piece.roll.sum(1).max()) <= 4


def test_jazz_is_shipped_tested_and_plays_like_the_masters() -> None:
    """The jazz soloist: small, fp16, its test figure and sampling defaults in the card, and over a Bb blues it plays
    as densely, as chromatically and as rhythmically varied as real solos do (the benchmark measures these against
    held-out solos; here, broad bounds on a few choruses), without copying its training phrases."""
    from studio.music.jazz.soloist import Soloist, SoloRequest
    from studio.music.jazz.statistics import pooled, solo_statistics
    from studio.music.theory.chords import blues_chart

    path = shipped_models()["jazz"]
    assert (path / "model.safetensors").stat().st_size <= 15 * 1024 * 1024
    soloist = Soloist("jazz")
    card = soloist.loaded.card
    assert card["model_kind"] == "jazz" and card["weights"]["dtype"] == "float16"
    assert "studio train jazz" in card["command"] and card["evaluation"]["test_nats_per_note"] <= 4.2
    assert card["evaluation"]["solos"] >= 40 and "ship_music_model.py" in card["evaluation"]["command"]
    assert set(card["sampling"]) >= {"temperature", "top_p", "rhythm_temperature", "chosen_on"}
    assert {"bebop", "swing"} <= set(card["styles"]) and "Charlie Parker" in card["soloists"]
    chart = blues_chart("12-bar", "Bb")
    solos = soloist.improvise(SoloRequest(chart, choruses=2, tempo=180, style="bebop",
                                          config=GenerationConfig(temperature=1.0, num_samples=4, seed=3)))
    beats = [bar[beat * len(bar) // 4] for bar in chart.bars * 2 for beat in range(4)]  # the chord on each beat
    rows = [solo_statistics(s.notes, beats, 24, soloist.training_phrases) for s in solos]
    stats = pooled(rows, [len(s.notes) for s in solos])
    assert 3.0 <= stats["notes_per_bar"] <= 12.0  # real solos: 6.2 a bar
    assert stats["ioi_sixteenth"] + stats["ioi_triplet"] >= 0.15  # it plays fast figures (real: 0.38)
    assert stats["offbeat_onsets"] >= 0.4 and stats["triplet_onsets"] >= 0.03  # swung, with triplets
    assert 0.5 <= stats["chord_or_blues"] <= 0.9  # chromatic approach tones, as the masters (real: 0.71)
    assert stats["steps"] >= 0.4 and stats["copied_phrases"] <= 0.1
    # It reads the tempo: a ballad is played densely, a burner in longer values (validation solos under 120 bpm: 10.6
    # notes a bar; from 230 bpm: 5.1; the soloist plays 9.4 and 4.9, benchmarks/jazz_tempo.py).
    assert "reads the tempo" in describe(card)  # as `studio models` shows it
    density = {}
    for tempo in (70, 280):
        played = soloist.improvise(SoloRequest(chart, choruses=2, tempo=tempo, style="bebop",
                                               config=GenerationConfig(temperature=1.0, num_samples=4, seed=5)))
        density[tempo] = sum(len(s.notes) for s in played) / (4 * 2 * len(chart.bars))
    assert density[70] > 1.3 * density[280], density


def test_trade_is_shipped_and_answers_the_call() -> None:
    """The call-and-response model: small, fp16, attention, its test figure in the card, and over an F blues it
    answers a bebop call with a phrase that fills the answer's bars, attending to the call's notes."""
    from studio.music.jazz.corpus import TICKS_PER_BAR, SoloNote
    from studio.music.theory.chords import blues_chart
    from studio.music.trade.responder import Responder, TradeRequest

    path = shipped_models()["trade"]
    assert (path / "model.safetensors").stat().st_size <= 15 * 1024 * 1024
    responder = Responder("trade")
    card = responder.card
    assert card["model_kind"] == "trade" and card["weights"]["dtype"] == "float16"
    assert card["model_config"]["bridge"] == "attention" and "studio train trade" in card["command"]
    shown = describe(card)  # as `studio models` shows it
    assert "bridge attention" in shown and f"test {card['evaluation']['test_nats_per_note']:.3f}" in shown
    assert card["base"]["bridge"] == "final"  # attention grown onto a trained final-state model (BENCHMARKS.md)
    assert card["evaluation"]["test_nats_per_note"] <= 4.6 and "ship_music_model.py" in card["evaluation"]["command"]
    line = [65, 67, 69, 70, 72, 69, 65, 64, 63, 62, 60, 58, 57, 60, 65, 69]  # an F bebop line, eighths
    call = [SoloNote(6 * i, 6, p) for i, p in enumerate(line)]
    result = responder.trade(TradeRequest(call, blues_chart("12-bar", "F"), 4, 2,
                                          GenerationConfig(temperature=1.0, seed=5)))
    for exchange in result.rounds:
        assert len(exchange.answer) >= 8  # it plays: real answers hold about 6 notes a bar
        assert all(n.onset + n.duration <= 4 * TICKS_PER_BAR for n in exchange.answer)
        assert len(exchange.attention) == len(exchange.answer)
        # each answer note's attention over the call's notes (the rest goes to the call's rests and its start)
        assert all(0.0 < sum(row) <= 1.02 and min(row) >= 0.0 for row in exchange.attention)


def test_draw_is_shipped_and_draws_digits_glimpse_by_glimpse() -> None:
    """DRAW: small, fp16, its test bound in the card, and what it draws has MNIST's amount of ink, resolved over the
    glimpses (the first canvas a grey blur, the last near black and white), the same again from the same seed."""
    import torch

    from studio.sketch.training import load_draw

    path = shipped_models()["draw"]
    assert (path / "model.safetensors").stat().st_size <= 15 * 1024 * 1024
    model, card = load_draw("draw")
    assert card["model_kind"] == "draw" and card["weights"]["dtype"] == "float16"
    assert card["model_config"]["attention"] and "studio train draw" in card["command"]
    assert card["metrics"]["test_nats_per_image"] <= 89.0 and card["metrics"]["test_images"] == 10_000
    drawn = model.sample(64, torch.Generator().manual_seed(3))["canvases"]  # (glimpses, 64, 28, 28) in [0, 1]
    ink = drawn.mean(dim=(1, 2, 3))
    assert 0.08 <= float(ink[-1]) <= 0.2  # binarized MNIST: 13% of the pixels are ink
    doubt = torch.minimum(drawn, 1 - drawn).mean(dim=(1, 2, 3))  # 0: every pixel surely ink or paper
    assert float(doubt[0]) > 0.25 and float(doubt[-1]) < 0.1  # it draws: a grey start resolved glimpse by glimpse
    again = model.sample(64, torch.Generator().manual_seed(3))["canvases"]
    assert torch.equal(drawn, again)
