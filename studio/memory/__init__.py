"""The Neural Turing Machine's algorithmic tasks (copy, associative recall): data, training, evaluation by size,
and pictures of how a machine uses its memory."""
