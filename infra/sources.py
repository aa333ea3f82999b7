"""Repository paths and the definitions the infrastructure shares with the runtime code.

The table layout (``oncall.store.schema``), the HTTP routes and their throttles (``oncall.http_routes``) and the
metric names (``oncall.telemetry``) live in the domain package so that the CDK stack, the local stack and the
tests use one definition. These modules are free of third-party imports; we import them from the layer's source
folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
LAYER_ROOT: Final = REPO_ROOT / "layers" / "core"
LAYER_PYTHON: Final = LAYER_ROOT / "python"
ONCALL_PACKAGE: Final = LAYER_PYTHON / "oncall"
FUNCTIONS_DIR: Final = REPO_ROOT / "functions"
REQUIREMENTS: Final = REPO_ROOT / "requirements.txt"
LOCAL_DIR: Final = REPO_ROOT / ".local"

if str(LAYER_PYTHON) not in sys.path:
    sys.path.insert(0, str(LAYER_PYTHON))

from oncall import http_routes, telemetry  # noqa: E402
from oncall.store import schema  # noqa: E402

__all__ = [
    "FUNCTIONS_DIR",
    "LAYER_PYTHON",
    "LAYER_ROOT",
    "LOCAL_DIR",
    "ONCALL_PACKAGE",
    "REPO_ROOT",
    "REQUIREMENTS",
    "function_dir",
    "http_routes",
    "schema",
    "telemetry",
]


def function_dir(name: str) -> Path:
    """The code folder of the Lambda function ``name`` (``functions/<name>/handler.py``)."""
    path = FUNCTIONS_DIR / name
    if not path.is_dir():
        raise FileNotFoundError(f"Lambda code folder {path} is missing (expected functions/{name}/handler.py)")
    return path
