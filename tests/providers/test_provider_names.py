"""No provider is named outside its own modules and the registry: the rest of the tool (code, templates, static
files) reaches providers only through the interface, so adding one is one module. The emulators, migrations,
docs and tests may name them."""

from __future__ import annotations

import re
from pathlib import Path

from lti_tool.providers.registry import BUILT_IN

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = ROOT / "lti_tool" / "providers"
# A provider's modules are the ones named after it: speechace.py, speechace_assessments.py, itep_accounts.py…
EXEMPT_DIRS = (ROOT / "lti_tool" / "sandbox", ROOT / "lti_tool" / "migrations")
NAMES = re.compile("|".join(rf"(?<![a-z]){re.escape(name)}" for name in BUILT_IN), re.IGNORECASE)


def _allowed(path: Path) -> bool:
    if any(path.is_relative_to(folder) for folder in EXEMPT_DIRS):
        return True
    if path.parent == PROVIDERS:
        return path.stem == "registry" or any(path.stem.startswith(name) for name in BUILT_IN)
    return False


def named_outside(roots: list[Path]) -> list[str]:
    found = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.suffix not in {".py", ".html", ".js", ".css", ".txt", ".cfg"} \
                    or _allowed(path):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if NAMES.search(line):
                    found.append(f"{path.relative_to(root.parent)}:{number}: {line.strip()[:100]}")
    return found


def test_no_provider_is_named_outside_its_modules_and_the_registry():
    assert named_outside([ROOT / "lti_tool", ROOT / "templates", ROOT / "static"]) == []


def test_the_check_finds_a_name(tmp_path):
    (tmp_path / "view.py").write_text('if assessment.provider == "iTEP":\n    pass\n')
    (tmp_path / "page.html").write_text("<p>Add a Speechace test</p>\n")
    (tmp_path / "fine.py").write_text("whitepaper = 'site-packages'\n")
    assert named_outside([tmp_path]) == [f"{tmp_path.name}/page.html:1: <p>Add a Speechace test</p>",
                                         f"{tmp_path.name}/view.py:1: if assessment.provider == \"iTEP\":"]
