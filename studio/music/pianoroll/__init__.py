"""The piano-roll family (jsb, folk): frame rolls, training, and continuing or harmonising with them."""
