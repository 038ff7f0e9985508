"""Symbolic music: shared theory, file I/O and the band; one package per model family (leadsheet, remi, pianoroll)."""
