"""`python -m nim_build`."""

import sys

from nim_build.cli import main

sys.exit(main())
