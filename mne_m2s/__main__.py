"""``python -m mne_m2s`` (and ``torchrun -m mne_m2s``): the ``mne-m2s`` command line."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
