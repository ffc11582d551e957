"""Where templates/ and static/ are: the repository's top level (a checkout, the editable install), or
share/lti-tool/ under the installation's data folder after installing the wheel (setup.cfg's data_files)."""

from __future__ import annotations

import site
import sys
from pathlib import Path

_REPOSITORY = Path(__file__).resolve().parent.parent


def _candidates(name: str) -> tuple[Path, ...]:
    return (_REPOSITORY / name,
            Path(sys.prefix) / "share" / "lti-tool" / name,  # a venv or the system's Python
            Path(site.USER_BASE or "~/.local").expanduser() / "share" / "lti-tool" / name)  # pip install --user


def resource_dir(name: str) -> str:
    candidates = _candidates(name)
    for candidate in candidates:
        if candidate.is_dir():
            return str(candidate)
    raise FileNotFoundError(f"cannot find the tool's {name}/ folder in {', '.join(map(str, candidates))}")
