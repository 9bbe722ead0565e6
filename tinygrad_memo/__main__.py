"""``python -m tinygrad_memo demo|memo|viz|bench``: see :mod:`tinygrad_memo.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
