"""`python -m diplo_pipeline.cli`, as the `diplo` script."""

import sys

from diplo_pipeline.cli import main

sys.exit(main())
