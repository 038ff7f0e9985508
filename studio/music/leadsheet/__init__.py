"""The blues improviser family: lead-sheet tokenizer, procedural corpus, training, the Composer, metrics."""
