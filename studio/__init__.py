"""Studio: make music and prose with recurrent neural networks.

Nothing heavy is imported here, so ``import studio`` (and ``studio --help``) stays fast.
"""

__version__ = "0.1.0"
