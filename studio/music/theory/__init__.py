"""Music theory every family shares: chords, chord charts, blues forms, notes and lead sheets."""
