"""The backing band: walking or shuffle bass, comping and drums, rendered with a lead to General MIDI."""
