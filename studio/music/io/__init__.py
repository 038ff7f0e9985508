"""Music files in and out: MIDI, MusicXML, ABC, kern and Impro-Visor readers, lead-sheet extraction, export."""
