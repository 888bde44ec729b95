"""Where the training/evaluation data lives: ../shared/data beside the checkout (never copied in).

Override with EMOTIVE_SHARED_DATA. Callers that need it and find it absent should skip (tests)
or stop with this module's message (training scripts).
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    env = os.environ.get("EMOTIVE_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def require(relative: str) -> Path:
    """Path of a dataset under shared/data, or a clear error saying where it was looked for."""
    path = shared_data_dir() / relative
    if not path.exists():
        raise FileNotFoundError(
            f"dataset not found: {path} (set EMOTIVE_SHARED_DATA to the folder holding shared/data)")
    return path
