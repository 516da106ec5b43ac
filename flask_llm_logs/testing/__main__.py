"""``python -m flask_llm_logs.testing serve --port 8765``; see :mod:`.serve`."""

from __future__ import annotations

import sys

from .serve import main

sys.exit(main())
