"""``python -m mirnet.cli``: what torchrun runs (``torchrun ... -m mirnet.cli train ...``)."""

import sys

from . import main

sys.exit(main())
