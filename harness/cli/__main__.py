"""``python -m harness.cli``: the same as the ``opsdb`` console script."""

import sys

from harness.cli import main

sys.exit(main())
