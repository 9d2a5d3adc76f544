"""``python -m agent.cli``: the same as ``mailfleet-agent``."""

import sys

from agent.cli.main import main

sys.exit(main())
