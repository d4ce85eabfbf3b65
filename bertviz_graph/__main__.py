"""python -m bertviz_graph ... is the same as the bertviz-graph command."""

import sys

from bertviz_graph.cli import main

sys.exit(main())
