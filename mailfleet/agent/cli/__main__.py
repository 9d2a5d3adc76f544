"""``python -m mailfleet.agent.cli``: the same as ``mailfleet-agent``."""

import sys

from mailfleet.agent.cli.main import main

sys.exit(main())
