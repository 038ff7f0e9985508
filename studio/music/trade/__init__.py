"""Trading fours: call and response with an encoder-decoder and attention over the jazz soloist's tokens."""
