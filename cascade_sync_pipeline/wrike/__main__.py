"""`python -m cascade_sync_pipeline.wrike authorize|exchange|status`: the Wrike OAuth 2.0 bootstrap."""

import sys

from cascade_sync_pipeline.wrike.oauth import main

sys.exit(main())
