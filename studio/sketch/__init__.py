"""DRAW on binarized MNIST: the data, training, the test bound, and drawing (the canvas after each glimpse as
frames and an animated GIF)."""
