import sys

from cascade_sync_pipeline.cli import main

sys.exit(main())
