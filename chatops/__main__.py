"""`python -m chatops` is the same as the `chatops` command."""

import sys

from chatops.cli import main

sys.exit(main())
