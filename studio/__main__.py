"""``python -m studio`` is the same as the ``studio`` command (and what ``torchrun -m studio`` runs)."""

import sys

from studio.cli import main

sys.exit(main())
