"""The polyphonic (chorale) family: MidiTok REMI tokens, training, and continuing a primer."""
