"""Where templates/ and static/ are: the repository's top level, or share/lti-tool after a plain install."""

from __future__ import annotations

import sys
from pathlib import Path

_REPOSITORY = Path(__file__).resolve().parent.parent


def resource_dir(name: str) -> str:
    candidates = (_REPOSITORY / name, Path(sys.prefix) / "share" / "lti-tool" / name)
    for candidate in candidates:
        if candidate.is_dir():
            return str(candidate)
    raise FileNotFoundError(f"cannot find the tool's {name}/ folder in {', '.join(map(str, candidates))}")
