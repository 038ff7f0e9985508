"""Call and response as sequence to sequence: a bidirectional GRU reads the call, an LSTM decoder plays the answer.

The encoder (Cho et al. 2014; bidirectional as in Bahdanau et al. 2015) reads the call's tokens with the chord and
the place in the bar of each. The decoder reads, at every step, its previous token with the changes of the step it
predicts (the soloist's inputs: chord and next chord through a fixed chord table, place in the bar, ticks to the
change) and, depending on ``bridge``:

- ``"none"``: nothing of the call (the soloist alone, the ablation's floor);
- ``"final"``: its state starts from the encoder's final states (Sutskever et al. 2014; Cho et al. 2014);
- ``"attention"``: that, and at every step a context vector, the call's encoder states weighted by Bahdanau's
  additive attention ``a_ti = softmax_i(v . tanh(W s_(t-1) + U h_i))`` on the previous decoder state, joined to the
  decoder's input and to its output layer.

With ``copy`` (attention only) the attention also points, as in the pointer-generator (See et al. 2017), but at
intervals instead of tokens: when the answer's next token is a note, attending to call note i proposes moving from
the answer's last note by the interval from call note i to the call's next note, so the answer can take up a
figure of the call in any transposition. A learned gate mixes that proposal with the decoder's softmax:
``p = (1 - g m) softmax(logits) + g q``, where ``q`` is the attention mass on each proposed pitch and ``m`` its sum;
the model then returns ``log p`` in place of logits (the same for the loss and for sampling).

With ``aligned`` (attention only) the attention is also told where each call token falls against the step it
predicts: the answer's onset minus the call token's onset, both in ticks from their own phrase's first bar, so 0 is
"the same place one phrase earlier". A learned vector per offset (a sixteenth, ``OFFSET_STEP`` ticks, a bucket;
beyond +-``OFFSET_SPAN`` the edge bucket) joins the key inside the tanh, ``v . tanh(W s + U h_i + E[offset_ti])``
(location-aware attention, Chorowski et al. 2015, with the location a time offset), so the decoder can find the
call's figure at the same place in the bar and phrase without the encoder counting bars. It starts at zero: a model
given it plays as before until it learns. Trained on 2- and 4-bar pairs it has seen offsets within +-4 bars only;
trading longer phrases, the farther call notes share the edge buckets, which it has rarely or never trained.

Shapes: the call is (batch, call_len) with a mask of real tokens; the answer (batch, answer_len); onsets are ticks
from the phrase's first bar, the call's (batch, call_len), the answer's (batch, answer_len). ``forward``
returns logits (batch, answer_len, vocab) and the attention weights (batch, answer_len, call_len).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from studio.config import _Config, check_choice, check_range
from studio.errors import StudioError

BRIDGES = ("none", "final", "attention")
OFFSET_STEP = 3                 # ticks an offset bucket: a sixteenth (48 ticks a bar)
OFFSET_SPAN = 192               # offsets up to four bars either way have buckets of their own; beyond, the edge
OFFSET_BUCKETS = 2 * (OFFSET_SPAN // OFFSET_STEP) + 1
State = tuple[torch.Tensor, torch.Tensor]


@dataclass
class CallResponseConfig(_Config):
    """The shape of a ``CallResponseModel``; the model is built from this alone."""

    vocab_size: int = 172           # the jazz tokenizer's ids (what and how long)
    bridge: str = "attention"       # none, final or attention (see the module docstring)
    embedding_size: int = 48        # token embedding, shared by encoder and decoder
    encoder_hidden: int = 128       # each direction of the bidirectional GRU
    decoder_hidden: int = 256       # the decoder LSTM cell
    attention_size: int = 128       # width of the additive attention's hidden layer
    chord_vocab_size: int = 169     # chord ids (studio.music.theory.chords.CHORD_VOCAB)
    chord_features: int = 37        # width of a chord's feature vector (a fixed table, saved with the weights)
    chord_embedding: int = 24       # chords (and next chords) are projected to this width
    bar_positions: int = 48         # ticks in a bar
    position_embedding: int = 12
    until_change: int = 97          # ids of "ticks until the chord changes" (0..96)
    until_embedding: int = 8
    dropout: float = 0.2            # on embedded inputs and on the decoder's output
    copy: bool = False              # attention also proposes the call's intervals (see the module docstring)
    pitch_count: int = 74           # pitch tokens (ids 2..) of the jazz tokenizer, from its lowest pitch up
    aligned: bool = False           # attention also reads answer-minus-call onset offsets (see the module docstring)

    def validate(self) -> None:
        check_choice("bridge", self.bridge, BRIDGES)
        if self.copy and self.bridge != "attention":
            raise StudioError("copying the call's intervals needs attention (bridge attention)")
        if self.aligned and self.bridge != "attention":
            raise StudioError("aligning the call's onsets with the answer's needs attention (bridge attention)")
        check_range("pitch_count", self.pitch_count, 1, 128, integer=True)
        for name in ("vocab_size", "embedding_size", "encoder_hidden", "decoder_hidden", "attention_size",
                     "chord_vocab_size", "chord_features", "chord_embedding", "bar_positions", "position_embedding",
                     "until_change", "until_embedding"):
            check_range(name, getattr(self, name), 1, 1_000_000, integer=True)
        check_range("dropout", self.dropout, 0.0, 0.95)

    @property
    def context_size(self) -> int:
        return 2 * self.encoder_hidden if self.bridge == "attention" else 0


class CallResponseModel(nn.Module):
    """Encoder-decoder with additive attention over the call (see the module docstring)."""

    def __init__(self, config: CallResponseConfig) -> None:
        super().__init__()
        c = self.config = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_size)
        self.register_buffer("chord_table", torch.zeros(c.chord_vocab_size, c.chord_features))
        self.chord_projection = nn.Linear(c.chord_features, c.chord_embedding)
        self.next_chord_projection = nn.Linear(c.chord_features, c.chord_embedding)
        self.positions = nn.Embedding(c.bar_positions, c.position_embedding)
        self.until = nn.Embedding(c.until_change, c.until_embedding)
        self.dropout = nn.Dropout(c.dropout)
        if c.bridge != "none":
            call_in = c.embedding_size + c.chord_embedding + c.position_embedding
            self.encoder = nn.GRU(call_in, c.encoder_hidden, batch_first=True, bidirectional=True)
            self.bridge_h = nn.Linear(2 * c.encoder_hidden, c.decoder_hidden)
            self.bridge_c = nn.Linear(2 * c.encoder_hidden, c.decoder_hidden)
        if c.bridge == "attention":
            self.attend_state = nn.Linear(c.decoder_hidden, c.attention_size, bias=False)
            self.attend_call = nn.Linear(2 * c.encoder_hidden, c.attention_size)
            self.attend_v = nn.Linear(c.attention_size, 1, bias=False)
        self.attend_offset = nn.Embedding(OFFSET_BUCKETS, c.attention_size) if c.aligned else None
        if self.attend_offset is not None:  # zero: the attention starts as it was without offsets
            nn.init.zeros_(self.attend_offset.weight)
        step_in = c.embedding_size + 2 * c.chord_embedding + c.position_embedding + c.until_embedding + c.context_size
        self.cell = nn.LSTMCell(step_in, c.decoder_hidden)
        self.output = nn.Linear(c.decoder_hidden + c.context_size, c.vocab_size)
        self.copy_gate = nn.Linear(c.decoder_hidden + c.context_size, 1) if c.copy else None
        if self.copy_gate is not None:  # start mostly generating (a gate of 0.27), let the data open it
            nn.init.constant_(self.copy_gate.bias, -1.0)
        with torch.no_grad():  # forget-gate bias 1 (Jozefowicz et al. 2015)
            self.cell.bias_ih.zero_()
            self.cell.bias_hh.zero_()
            self.cell.bias_ih[c.decoder_hidden:2 * c.decoder_hidden].fill_(1.0)

    def set_chord_features(self, table: torch.Tensor) -> None:
        with torch.no_grad():
            self.chord_table.copy_(table)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- the call ----------------------------------------------------------------------------------------------------
    def encode(self, call: torch.Tensor, call_mask: torch.Tensor, call_chords: torch.Tensor,
               call_positions: torch.Tensor) -> tuple[torch.Tensor | None, State]:
        """Encoder states (batch, call_len, 2 x encoder_hidden), or None without an encoder, and the decoder's
        initial (h, c), each (batch, decoder_hidden)."""
        c = self.config
        batch = call.shape[0]
        zeros = call.new_zeros(batch, c.decoder_hidden, dtype=self.embedding.weight.dtype)
        if c.bridge == "none":
            return None, (zeros, zeros.clone())
        x = torch.cat([self.embedding(call), self.chord_projection(self.chord_table[call_chords]),
                       self.positions(call_positions)], dim=-1)
        lengths = call_mask.sum(dim=1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.dropout(x), lengths, batch_first=True, enforce_sorted=False)
        out, last = self.encoder(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=call.shape[1])
        summary = torch.cat([last[0], last[1]], dim=-1)  # forward's last state, backward's first
        return out, (torch.tanh(self.bridge_h(summary)), torch.tanh(self.bridge_c(summary)))

    def is_pitch(self, tokens: torch.Tensor) -> torch.Tensor:
        """Which tokens are pitches (ids 2..pitch_count+1 of the jazz tokenizer), same shape."""
        return (tokens >= 2) & (tokens < 2 + self.config.pitch_count)

    def call_steps(self, call: torch.Tensor, call_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For each call token (batch, call_len): the interval in semitones from its note to the call's next note,
        and whether there is one (a pitch token with a later note); what ``copy`` proposes."""
        length = call.shape[1]
        is_pitch = self.is_pitch(call) & call_mask
        index = torch.arange(length, device=call.device).expand_as(call)
        at = torch.where(is_pitch, index, length)
        later = torch.cat([at[:, 1:], at.new_full((call.shape[0], 1), length)], dim=1)
        following = later.flip(1).cummin(1).values.flip(1)  # the next pitch token's index after each (length: none)
        pitch = call - 2
        steps = pitch.gather(1, following.clamp(max=length - 1)) - pitch
        return steps, is_pitch & (following < length)

    def last_pitches(self, tokens: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
        """For each token (batch, T): the last note among the tokens up to it as a pitch index (0..pitch_count-1),
        ``before`` (batch,) where there is none yet."""
        index = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
        latest = torch.where(self.is_pitch(tokens), index, -1).cummax(dim=1).values
        return torch.where(latest >= 0, tokens.gather(1, latest.clamp(min=0)) - 2, before[:, None])

    def last_call_pitch(self, call: torch.Tensor, call_mask: torch.Tensor) -> torch.Tensor:
        """The call's last note as a pitch index, -1 for a call without notes; (batch,)."""
        return self.last_pitches(call.masked_fill(~call_mask, 0), call.new_full((call.shape[0],), -1))[:, -1]

    # -- the answer --------------------------------------------------------------------------------------------------
    def keys(self, memory: torch.Tensor | None) -> torch.Tensor | None:
        """The call's attention keys ``U h_i`` (batch, call_len, attention_size), computed once per call."""
        return self.attend_call(memory) if self.config.bridge == "attention" and memory is not None else None

    def step(self, token: torch.Tensor, state: State, conditions: dict[str, torch.Tensor],
             memory: torch.Tensor | None, keys: torch.Tensor | None, call_mask: torch.Tensor,
             copy: tuple[torch.Tensor, torch.Tensor] | None = None, call_onsets: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """One decoder step: token (batch,), conditions of the predicted step (batch,) each; ``memory`` and
        ``keys`` from ``encode`` and ``keys``; a copying model also takes ``copy`` (``call_steps``) and the
        answer's last note so far as ``conditions["last_pitch"]`` (a pitch index, -1 for none); an aligned model
        the call's onsets ``call_onsets`` (batch, call_len) and the predicted step's as ``conditions["onsets"]``.

        Returns logits (batch, vocab) (log-probabilities for a copying model), the new state, and the attention
        weights (batch, call_len) or None.
        """
        h, cell = state
        parts = [self.embedding(token), self.chord_projection(self.chord_table[conditions["chords"]]),
                 self.next_chord_projection(self.chord_table[conditions["next_chords"]]),
                 self.positions(conditions["positions"]), self.until(conditions["until_change"])]
        weights = context = None
        if keys is not None and memory is not None:
            if self.attend_offset is not None:
                keys = keys + self.attend_offset(self._offset_buckets(conditions, call_onsets))
            scores = self.attend_v(torch.tanh(self.attend_state(h)[:, None, :] + keys))[..., 0]
            weights = torch.softmax(scores.masked_fill(~call_mask, float("-inf")), dim=-1)
            context = torch.bmm(weights[:, None, :], memory)[:, 0]
            parts.append(context)
        h, cell = self.cell(self.dropout(torch.cat(parts, dim=-1)), (h, cell))
        top = torch.cat([h, context], dim=-1) if context is not None else h
        logits = self.output(self.dropout(top))
        if self.copy_gate is not None and weights is not None:
            if copy is None:
                raise ValueError("a copying model needs the call's intervals (call_steps) and last_pitch")
            logits = self._copy(logits, top, token, weights, copy, conditions["last_pitch"])
        return logits, (h, cell), weights

    @staticmethod
    def _offset_buckets(conditions: dict[str, torch.Tensor], call_onsets: torch.Tensor | None) -> torch.Tensor:
        """The bucket of each call token's onset offset from the predicted step's, (batch, call_len)."""
        if call_onsets is None or "onsets" not in conditions:
            raise ValueError("an aligned model needs the call's onsets and the answer step's (conditions['onsets'])")
        offset = (conditions["onsets"][:, None] - call_onsets).clamp(-OFFSET_SPAN, OFFSET_SPAN)
        return torch.div(offset, OFFSET_STEP, rounding_mode="floor") + OFFSET_SPAN // OFFSET_STEP

    def _copy(self, logits: torch.Tensor, top: torch.Tensor, token: torch.Tensor, weights: torch.Tensor,
              copy: tuple[torch.Tensor, torch.Tensor], last: torch.Tensor) -> torch.Tensor:
        """``log p`` of the gated mixture (see the module docstring); (batch, vocab)."""
        count = self.config.pitch_count
        steps, valid = copy
        target = last[:, None] + steps  # (batch, call_len): the pitch each call note proposes
        note_next = (token == 0) | (token >= 2 + count)  # after BOS or a length the next token is a pitch or rest
        # (the jazz tokenizer's layout: 0 BOS, 1 REST, the pitches, then the lengths)
        usable = valid & (last[:, None] >= 0) & (target >= 0) & (target < count) & note_next[:, None]
        mass = weights * usable
        proposal = torch.zeros_like(logits, dtype=torch.float32).scatter_add(
            1, target.clamp(0, count - 1) + 2, mass.float())
        gate = torch.sigmoid(self.copy_gate(top)).float()  # (batch, 1)
        total = proposal.sum(dim=1, keepdim=True)  # m: the attention on call notes that propose a pitch
        probs = torch.softmax(logits.float(), dim=-1) * (1 - gate * total) + gate * proposal
        return torch.log(probs.clamp(min=1e-12))

    def forward(self, call: torch.Tensor, call_mask: torch.Tensor, call_conditions: dict[str, torch.Tensor],
                answer: torch.Tensor, answer_conditions: dict[str, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forced logits for every answer position: the model reads ``answer[:, t]`` with
        ``answer_conditions[k][:, t]``, which describe the token it predicts at step t (the caller aligns them);
        an aligned model reads ``call_conditions["onsets"]`` and ``answer_conditions["onsets"]`` too.
        Returns logits (batch, T, vocab) and attention (batch, T, call_len) or None."""
        memory, state = self.encode(call, call_mask, call_conditions["chords"], call_conditions["positions"])
        keys = self.keys(memory)
        copy = last = None
        if self.copy_gate is not None:
            copy = self.call_steps(call, call_mask)
            last = self.last_pitches(answer, self.last_call_pitch(call, call_mask))
        logits, attention = [], []
        for t in range(answer.shape[1]):
            cond = {k: v[:, t] for k, v in answer_conditions.items()}
            if last is not None:
                cond["last_pitch"] = last[:, t]
            out, state, weights = self.step(answer[:, t], state, cond, memory, keys, call_mask, copy,
                                            call_conditions.get("onsets"))
            logits.append(out)
            if weights is not None:
                attention.append(weights)
        return torch.stack(logits, dim=1), (torch.stack(attention, dim=1) if attention else None)


def answer_nll(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each answer's cross-entropy (nats) over its real tokens, (B,): logits (B, T, V), targets and mask (B, T)."""
    nll = F.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none")
    return (nll * mask).sum(dim=1)


def answer_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy (nats) of the real answer tokens of a batch (a scalar): ``answer_nll`` summed."""
    return answer_nll(logits, targets, mask).sum()


__all__: list[Any] = ["BRIDGES", "OFFSET_BUCKETS", "CallResponseConfig", "CallResponseModel", "answer_loss",
                      "answer_nll"]
