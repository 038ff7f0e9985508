"""The jazz soloist: real solos read and tokenized on a 48-per-bar grid, training, scoring and improvising."""
