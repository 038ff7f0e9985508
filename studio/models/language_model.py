"""A recurrent language model: embedding -> stacked RNN/LSTM/GRU -> softmax layer.

Built on ``torch.nn.RNN/LSTM/GRU`` so the fused cuDNN (GPU) and oneDNN/ATen (CPU) kernels do the work; the peephole
and layer-normalised LSTMs (``cplstm``, ``lnlstm``) are Studio's own stacks with the same interface
(``studio.models.cells``). Dropout follows Zaremba et al. (2014): on the embedded input, between layers and on the
top layer's output, never on the recurrent state. ``weight_drop`` adds DropConnect on the recurrent weight matrices
instead (Merity et al. 2017): the state itself is untouched, so the fused kernels still run, on weights masked once
per forward pass. Music models may add pitch heads (``ModelConfig.pitch_heads``): key-free scores of each pitch by
its interval above the chord's root and from the last note, added to the pitch tokens' logits.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from studio.config import ModelConfig
from studio.models.cells import LSTM_LIKE, build_recurrent

# The recurrent state: (h,) for rnn and gru, (h, c) for the LSTMs; each tensor is (num_layers, batch, hidden_size).
State = tuple[torch.Tensor, ...]
INTERVAL_SPAN = 24  # the interval head scores -24..+24 semitones from the last note, and one score for further


class RNNLanguageModel(nn.Module):
    """Predicts the next token at every position of a token sequence.

    Parameters
    ----------
    config : ModelConfig
        The whole shape of the model; nothing else is needed to rebuild it from a checkpoint.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_size)
        self.dropout_embedding = nn.Dropout(c.dropout_embedding)
        # Conditioning inputs (music): chord features projected to chord_embedding, bar position embedded; both
        # are joined to the token embedding at every step. The chord feature table is a buffer, filled by whoever
        # knows the chord vocabulary (set_chord_features) and saved with the weights.
        if c.chord_vocab_size:
            self.register_buffer("chord_table", torch.zeros(c.chord_vocab_size, c.chord_features))
            self.chord_projection = nn.Linear(c.chord_features, c.chord_embedding)
        # The next chord of the changes reads the same feature table through a projection of its own.
        self.next_chord_projection = nn.Linear(c.chord_features, c.chord_embedding) if c.next_chord else None
        self.position_table = nn.Embedding(c.bar_positions, c.position_embedding) if c.bar_positions else None
        self.condition_tables = nn.ModuleDict({name: nn.Embedding(ids, width) for name, ids, width in c.conditions})
        rnn_in = (c.embedding_size + c.chord_embedding * (2 if c.next_chord else 1) + c.position_embedding
                  + sum(width for _, _, width in c.conditions))
        self.rnn = build_recurrent(c.cell, rnn_in, c.hidden_size, c.num_layers, c.dropout_between, c.forget_bias)
        self.dropout_output = nn.Dropout(c.dropout_output)
        # Tying needs the decoder's input to be as wide as the embedding; a projection bridges different widths.
        self.projection = (nn.Linear(c.hidden_size, c.embedding_size, bias=False)
                           if c.tie_weights and c.hidden_size != c.embedding_size else None)
        decoder_in = c.embedding_size if c.tie_weights else c.hidden_size
        self.decoder = nn.Linear(decoder_in, c.vocab_size)
        if c.tie_weights:
            self.decoder.weight = self.embedding.weight
        # The pitch heads read the top layer's output (before any tying projection), as the output layer does.
        self.chord_head = nn.Linear(c.hidden_size, 12) if "chord" in c.pitch_heads else None
        self.interval_head = nn.Linear(c.hidden_size, 2 * INTERVAL_SPAN + 2) if "interval" in c.pitch_heads else None
        if c.pitch_heads:
            _, count, low = c.pitch_tokens
            self.register_buffer("head_pitches", torch.arange(low, low + count), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-0.1, 0.1) embeddings and output matrix, a zero output bias (Zaremba et al.). The recurrent layers
        keep their own init (``build_recurrent``: PyTorch's, with the LSTMs' forget-gate bias)."""
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if not self.config.tie_weights:
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        # The pitch heads start at zero: a model given them plays exactly as it would without, until it learns.
        for head in (self.chord_head, self.interval_head):
            if head is not None:
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)

    def initial_state(self, batch_size: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None) -> State:
        """Zero state for ``batch_size`` streams: a tuple of (num_layers, batch_size, hidden_size) tensors."""
        c = self.config
        ref = self.embedding.weight
        zeros = torch.zeros(c.num_layers, batch_size, c.hidden_size, device=device or ref.device,
                            dtype=dtype or ref.dtype)
        return (zeros, zeros.clone()) if c.cell in LSTM_LIKE else (zeros,)

    @property
    def conditioned(self) -> bool:
        """True when the model reads chords, bar positions or other condition streams beside the tokens."""
        return bool(self.config.chord_vocab_size or self.config.bar_positions or self.config.conditions)

    def set_chord_features(self, table: torch.Tensor) -> None:
        """Fill the chord feature table, shape (chord_vocab_size, chord_features)."""
        if tuple(table.shape) != tuple(self.chord_table.shape):
            raise ValueError(f"chord table must be {tuple(self.chord_table.shape)}, got {tuple(table.shape)}")
        with torch.no_grad():
            self.chord_table.copy_(table)

    def embed(self, tokens: torch.Tensor, chords: torch.Tensor | None = None,
              positions: torch.Tensor | None = None, **conditions: torch.Tensor) -> torch.Tensor:
        """The recurrent layers' input: token embedding, joined with the chord, next-chord, position and other
        condition embeddings the model reads (in that order). All index tensors have shape (batch, time); the
        result is (batch, time, rnn input width)."""
        parts = [self.embedding(tokens)]
        c = self.config
        if c.chord_vocab_size:
            if chords is None:
                raise ValueError("this model is chord-conditioned: pass chords (batch, time)")
            parts.append(self.chord_projection(self.chord_table[chords]))
        if self.next_chord_projection is not None:
            if conditions.get("next_chords") is None:
                raise ValueError("this model reads the next chord: pass next_chords (batch, time)")
            parts.append(self.next_chord_projection(self.chord_table[conditions["next_chords"]]))
        if self.position_table is not None:
            if positions is None:
                raise ValueError("this model is conditioned on bar positions: pass positions (batch, time)")
            parts.append(self.position_table(positions))
        for name, table in self.condition_tables.items():
            if conditions.get(name) is None:
                raise ValueError(f"this model reads the condition {name!r}: pass {name} (batch, time)")
            parts.append(table(conditions[name]))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

    def run_rnn(self, x: torch.Tensor, rnn_state):
        """The stacked recurrent layers on x (batch, time, input width) from ``rnn_state`` (as ``nn.LSTM`` takes it).

        While training with ``weight_drop`` > 0, each layer's hidden-to-hidden matrix is masked (and rescaled by
        1 / (1 - p)) once for the whole window. The masked matrices go into the module's ``_flat_weights`` (the list
        ``nn.RNN/LSTM/GRU.forward`` hands to the fused kernel) for this one call and the list is put back after, so
        the parameters are never modified, evaluation reads them as they are, and the gradient reaches them
        through the mask. (``torch.func.functional_call`` would also work, but it swaps attributes and leaves the
        list stale until the next call notices the swap and rebuilds it; here nothing on the module changes.)
        """
        p = self.config.weight_drop
        if not (self.training and p > 0):
            return self.rnn(x, rnn_state)
        if self.config.cell in ("cplstm", "lnlstm"):  # Studio's own stacks take the mask as an argument
            return self.rnn(x, rnn_state, weight_drop=p)
        rnn = self.rnn
        rnn._update_flat_weights()  # a rebuild pending from an earlier swap would overwrite the masked list
        kept = rnn._flat_weights
        masked = {f"weight_hh_l{k}" for k in range(self.config.num_layers)}
        rnn._flat_weights = [F.dropout(w, p) if name in masked else w
                             for name, w in zip(rnn._flat_weights_names, kept, strict=True)]
        try:
            with warnings.catch_warnings():
                # cuDNN says the weights are not one contiguous block (the masked matrices are new tensors) and
                # copies them into one for this call: expected here, and the price of the mask.
                warnings.filterwarnings("ignore", message=".*not part of single contiguous chunk of memory")
                return rnn(x, rnn_state)
        finally:
            rnn._flat_weights = kept

    def forward(self, tokens: torch.Tensor, state: State | None = None, chords: torch.Tensor | None = None,
                positions: torch.Tensor | None = None, **conditions: torch.Tensor) -> tuple[torch.Tensor, State]:
        """Next-token logits for every position.

        Parameters
        ----------
        tokens : LongTensor, shape (batch, time)
        state : tuple of Tensor, each (num_layers, batch, hidden_size), optional
            The state after the previous tokens; zeros when omitted.
        chords, positions : LongTensor, shape (batch, time), optional
            For conditioned models: the chord id and bar position of the step each output predicts.
        **conditions : LongTensor, shape (batch, time)
            The other streams the config names (``next_chords`` and each of ``config.conditions``), likewise.

        Returns
        -------
        logits : Tensor, shape (batch, time, vocab_size)
        state : tuple of Tensor, each (num_layers, batch, hidden_size)
        """
        x = self.dropout_embedding(self.embed(tokens, chords, positions, **conditions))
        if state is None:
            state = self.initial_state(tokens.shape[0], tokens.device, x.dtype)
        rnn_state = state if self.config.cell in LSTM_LIKE else state[0]
        out, new_state = self.run_rnn(x, rnn_state)
        out = self.dropout_output(out)
        hidden = out
        if self.projection is not None:
            out = self.projection(out)
        logits = self.decoder(out)
        if self.config.pitch_heads:
            logits = logits + self.pitch_scores(hidden, chords, conditions.get("last_pitches"))
        return logits, (tuple(new_state) if isinstance(new_state, tuple) else (new_state,))

    def pitch_scores(self, hidden: torch.Tensor, chords: torch.Tensor | None,
                     last_pitches: torch.Tensor | None) -> torch.Tensor:
        """The pitch heads' scores, laid out over the whole vocabulary (0 outside the pitch tokens).

        Parameters
        ----------
        hidden : Tensor, shape (..., hidden_size)
            The top layer's output.
        chords : LongTensor, shape (...)
            The chord id of each step (the chord head reads its root; "no chord" has none and scores 0).
        last_pitches : LongTensor, shape (...)
            0 where no note was played yet (scores 0), else the last note's MIDI pitch + 1.

        Returns
        -------
        Tensor, shape (..., vocab_size)
        """
        first, count, _ = self.config.pitch_tokens
        scores = hidden.new_zeros(*hidden.shape[:-1], count)
        if self.chord_head is not None:
            if chords is None:
                raise ValueError("this model's chord pitch head needs chords (batch, time)")
            roots = self.chord_table[chords][..., :12]  # the root one-hot (chord_features), all 0 for no chord
            above = (self.head_pitches - roots.argmax(dim=-1, keepdim=True)) % 12  # (..., count)
            by_interval = self.chord_head(hidden).gather(-1, above)  # (..., count)
            scores = scores + torch.where(roots.sum(dim=-1, keepdim=True) > 0, by_interval, 0.0)
        if self.interval_head is not None:
            if last_pitches is None:
                raise ValueError("this model's interval pitch head needs last_pitches (batch, time)")
            by_step = self.interval_head(hidden)  # (..., 2 * INTERVAL_SPAN + 2)
            steps = self.head_pitches - (last_pitches.unsqueeze(-1) - 1)  # (..., count) semitones from the last
            index = torch.where(steps.abs() <= INTERVAL_SPAN, steps + INTERVAL_SPAN, 2 * INTERVAL_SPAN + 1)
            scores = scores + torch.where(last_pitches.unsqueeze(-1) > 0, by_step.gather(-1, index), 0.0)
        return F.pad(scores, (first, self.config.vocab_size - first - count))

    def num_parameters(self) -> int:
        """Distinct trainable parameters (a tied matrix counts once)."""
        return sum(p.numel() for p in self.parameters())


def detach_state(state: State) -> State:
    """Cut the graph at a window boundary (truncated BPTT) while keeping the values."""
    return tuple(s.detach() for s in state)
