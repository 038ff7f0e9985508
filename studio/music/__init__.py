"""Symbolic music: chords and blues forms, MIDI tokenizers, ingestion, the backing band, export and metrics."""
