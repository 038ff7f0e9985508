"""Polyphonic music (chorales, piano) as one token stream: a thin wrapper over MidiTok's REMI.

REMI (Huang & Yang 2020) writes a piece bar by bar: ``Bar``, an optional ``TimeSig``, then for every onset a
``Position`` (32nd-note steps), an optional ``Tempo``, and one ``Pitch Velocity Duration`` triple per note starting
there. Every non-drum track is merged into one piano part before encoding, so a four-voice chorale is one stream
(voices are not told apart, and a unison of two voices is one note). Durations are exact to a 32nd note up to 4
beats and to a 16th up to 12 beats; longer notes are cut to 12 beats; pitches outside A0..C8 are dropped.

Generated sequences may break that grammar; ``decode`` keeps what is well formed (``valid_tokens``) and never
raises on a sequence of in-vocabulary ids. The MidiTok configuration (and a learned BPE model, if any) is stored by
``to_dict``, so a checkpoint rebuilds the tokenizer without its corpus.
"""

from __future__ import annotations

import inspect
import io
import json
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pretty_midi

from studio.errors import StudioError
from studio.music.io.midi import load_midi

SPECIAL_TOKENS = ("PAD", "BOS", "EOS")
# 8 positions per beat up to 4 beats, 4 per beat up to 12: enough for chorales and most piano writing.
DEFAULT_CONFIG: dict[str, Any] = {
    "pitch_range": (21, 109), "beat_res": {(0, 4): 8, (4, 12): 4}, "num_velocities": 16,
    "use_tempos": True, "use_time_signatures": True, "use_chords": False, "use_rests": False,
    "use_programs": False, "special_tokens": list(SPECIAL_TOKENS),
}


def _miditok():
    """MidiTok imported on first use: it pulls in symusic and Hugging Face tokenizers (nothing heavy at import)."""
    import miditok

    return miditok


def _layered(score: Any) -> Any:
    """The decoded piano part split into as few tracks as needed so that no track holds two overlapping notes of
    one pitch (two voices in unison): a MIDI track cannot, and would lose one of them."""
    import symusic

    layers: list[Any] = []
    ends: list[dict[int, int]] = []
    for note in sorted(score.tracks[0].notes, key=lambda n: (n.time, n.pitch)) if len(score.tracks) else []:
        k = next((k for k, end in enumerate(ends) if end.get(note.pitch, -1) <= note.time), len(layers))
        if k == len(layers):
            layers.append(symusic.Track(name="piano" if not layers else f"piano {k + 1}", program=0, is_drum=False))
            ends.append({})
        layers[k].notes.append(note)
        ends[k][note.pitch] = note.time + note.duration
    score.tracks = layers
    return score


class PolyTokenizer:
    """REMI tokens for polyphonic MIDI.

    Parameters
    ----------
    config : dict, optional
        ``miditok.TokenizerConfig`` fields overriding ``DEFAULT_CONFIG``.

    Attributes
    ----------
    pad_id, bos_id, eos_id : int
        Special token ids (0, 1, 2).
    last_dropped : int
        Tokens the most recent ``decode`` left out because they broke the grammar.
    """

    kind = "polyphonic"

    def __init__(self, config: dict[str, Any] | None = None, _miditok_tokenizer: Any = None) -> None:
        miditok = _miditok()
        if _miditok_tokenizer is not None:
            self._tok = _miditok_tokenizer
        else:
            # TokenizerConfig keeps unknown keywords silently: a typo would go unnoticed.
            known = set(inspect.signature(miditok.TokenizerConfig).parameters) - {"kwargs"}
            unknown = sorted(set(config or {}) - known)
            if unknown:
                raise StudioError(f"bad polyphonic tokenizer config: unknown option(s) {unknown}")
            try:
                self._tok = miditok.REMI(miditok.TokenizerConfig(**{**DEFAULT_CONFIG, **(config or {})}))
            except (TypeError, ValueError) as err:
                raise StudioError(f"bad polyphonic tokenizer config: {err}") from err
        if self._tok.config.use_programs:
            raise StudioError("the polyphonic tokenizer merges all tracks; use_programs must be false")
        self.pad_id, self.bos_id, self.eos_id = (self._tok[f"{t}_None"] for t in SPECIAL_TOKENS)
        self.last_dropped = 0

    # -- vocabulary ---------------------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of ids (the BPE vocabulary once ``train_bpe`` has run)."""
        return len(self._tok)

    @property
    def is_trained(self) -> bool:
        """Whether ids are BPE merges of base tokens."""
        return self._tok.is_trained

    def token_text(self, token_id: int) -> str:
        """The base tokens an id stands for, e.g. "Pitch_60" (several, joined by spaces, for a BPE id)."""
        return " ".join(self._base_tokens([token_id]))

    def _base_tokens(self, ids: list[int]) -> list[str]:
        if not self.is_trained:
            return [self._tok[i] for i in ids]
        miditok = _miditok()
        seq = miditok.TokSequence(ids=list(ids), are_ids_encoded=True)
        self._tok.decode_token_ids(seq)
        return list(seq.tokens)

    # -- encoding -----------------------------------------------------------------------------------------------
    def _score(self, midi: pretty_midi.PrettyMIDI | str | Path) -> Any:
        """A one-track ``symusic.Score`` holding every non-drum note, with the file's tempos and meters."""
        import symusic

        pm = midi if isinstance(midi, pretty_midi.PrettyMIDI) else load_midi(midi)
        buffer = io.BytesIO()
        pm.write(buffer)
        source = symusic.Score.from_midi(buffer.getvalue())
        merged = symusic.Score(source.ticks_per_quarter)
        merged.tempos = source.tempos
        merged.time_signatures = source.time_signatures
        track = symusic.Track(name="piano", program=0, is_drum=False)
        for part in source.tracks:
            if not part.is_drum:
                track.notes.extend(part.notes)
        if len(track.notes) == 0:
            raise StudioError("the music has no pitched (non-drum) notes to encode")
        merged.tracks.append(track)
        return merged

    def encode(self, midi: pretty_midi.PrettyMIDI | str | Path, bos_eos: bool = True) -> list[int]:
        """Token ids of a piece (a ``PrettyMIDI`` or any file ``load_midi`` reads), shape (n,).

        With ``bos_eos`` the ids are framed by BOS ... EOS.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MidiTok warns about every note it drops while preprocessing
            sequences = self._tok.encode(self._score(midi))
        ids = [int(i) for i in sequences[0].ids] if sequences else []
        return [self.bos_id, *ids, self.eos_id] if bos_eos else ids

    # -- decoding -----------------------------------------------------------------------------------------------
    def valid_tokens(self, ids: Sequence[int]) -> list[str]:
        """The well-formed part of a sequence, as base token strings.

        Reading stops at the first EOS; PAD, BOS and out-of-vocabulary ids are dropped. Then REMI's grammar: a
        ``TimeSig`` only right after a ``Bar``; a ``Position`` only inside a bar and later than the bar's last
        one (else everything up to the next ``Bar`` or ``Position`` is dropped); a ``Tempo`` only right after a
        ``Position``; a note only as a complete ``Pitch Velocity Duration`` triple after a ``Position``.
        """
        ids = [int(i) for i in ids]
        cut = ids.index(self.eos_id) if self.eos_id in ids else len(ids)
        known = [i for i in ids[:cut] if 0 <= i < self.vocab_size]
        after_eos = max(0, len(ids) - cut - 1)
        tokens = [t for t in self._base_tokens([i for i in known if i not in (self.pad_id, self.bos_id)])
                  if t.split("_", 1)[0] not in SPECIAL_TOKENS]
        out: list[str] = []
        last = None   # kind of the last token kept, or "skip" while dropping a bad position's notes
        position = None  # last position in the current bar; None outside any bar
        i = 0
        while i < len(tokens):
            kind, _, value = tokens[i].partition("_")
            step = 1
            if kind == "Bar":
                out.append(tokens[i])
                last, position = "Bar", -1
            elif kind == "TimeSig" and last == "Bar":
                out.append(tokens[i])
                last = "TimeSig"
            elif kind == "Position":
                if position is not None and int(value) > position:
                    out.append(tokens[i])
                    last, position = "Position", int(value)
                else:
                    last = "skip"
            elif kind == "Tempo" and last == "Position":
                out.append(tokens[i])
                last = "Tempo"
            elif (kind == "Pitch" and last in ("Position", "Tempo", "Note") and i + 2 < len(tokens)
                  and tokens[i + 1].startswith("Velocity_") and tokens[i + 2].startswith("Duration_")):
                out += tokens[i:i + 3]
                last, step = "Note", 3
            i += step
        self.last_dropped = (cut - len(known)) + after_eos + len(tokens) - len(out)
        return out

    def decode(self, ids: Sequence[int]) -> pretty_midi.PrettyMIDI:
        """A piano ``PrettyMIDI`` of the well-formed part of ``ids`` (see ``valid_tokens``; ``last_dropped`` says
        how much was left out). Any sequence of integers decodes; one with nothing valid gives an empty piece."""
        miditok = _miditok()
        tokens = self.valid_tokens(ids)
        if not any(t.startswith("Pitch_") for t in tokens):
            return pretty_midi.PrettyMIDI()
        seq = miditok.TokSequence(tokens=tokens)
        seq.ids = [self._tok.vocab[t] for t in tokens]
        try:
            score = _layered(self._tok.decode([seq]))
            pm = pretty_midi.PrettyMIDI(io.BytesIO(score.dumps_midi()))
        except Exception as err:  # pragma: no cover - valid_tokens should make this unreachable
            warnings.warn(f"could not decode the token sequence ({type(err).__name__}: {err})", stacklevel=2)
            return pretty_midi.PrettyMIDI()
        return pm

    # -- BPE ----------------------------------------------------------------------------------------------------
    def train_bpe(self, pieces: Sequence[pretty_midi.PrettyMIDI | str | Path], vocab_size: int) -> None:
        """Learn BPE merges on ``pieces`` so that one id stands for a frequent run of base tokens (in place).

        ``vocab_size`` counts base tokens too, so it must exceed ``vocab_size`` before training.
        """
        base = len(self._tok.vocab)
        if not isinstance(vocab_size, int) or vocab_size <= base:
            raise StudioError(f"BPE vocab_size must be a whole number above the base vocabulary ({base})")
        if not pieces:
            raise StudioError("BPE training needs at least one piece")
        with tempfile.TemporaryDirectory() as folder:
            paths = []
            for k, piece in enumerate(pieces):
                path = Path(folder) / f"{k}.mid"
                self._score(piece).dump_midi(path)
                paths.append(path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._tok.train(vocab_size=vocab_size, model="BPE", files_paths=paths)

    # -- storage ------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the kind and MidiTok's own parameters (config, and the BPE model when trained)."""
        return {"kind": self.kind, "miditok": json.loads(json.dumps(self._tok.to_dict()))}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolyTokenizer:
        """Inverse of ``to_dict``."""
        if data.get("kind") not in (cls.kind, "midi", "remi") or not isinstance(data.get("miditok"), dict):
            raise StudioError(f"not a polyphonic tokenizer (kind {data.get('kind')!r})")
        params = data["miditok"]
        if params.get("tokenization") != "REMI":
            raise StudioError(f"the stored polyphonic tokenizer uses {params.get('tokenization')!r}; "
                              "this Studio reads REMI")
        miditok = _miditok()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "tokenizer.json"
            path.write_text(json.dumps(params), encoding="utf-8")
            try:
                tok = miditok.REMI(params=path)
            except Exception as err:  # MidiTok raises KeyError/TypeError/ValueError on damaged params
                raise StudioError(f"the stored polyphonic tokenizer is damaged ({type(err).__name__}: {err})") \
                    from err
        return cls(_miditok_tokenizer=tok)
