"""Tocsin's local stack: DynamoDB Local, an API Gateway (HTTP API) emulation and the ``make run`` entry point.

Importing this package puts the Lambda layer (``layers/core/python``) on ``sys.path``, as the Lambda runtime
does with ``/opt/python``, so the gateway, its uvicorn workers and ``python -m local`` can import ``oncall``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
LAYER_DIR: Final = REPO_ROOT / "layers" / "core" / "python"
FUNCTIONS_DIR: Final = REPO_ROOT / "functions"

if str(LAYER_DIR) not in sys.path:
    sys.path.append(str(LAYER_DIR))
