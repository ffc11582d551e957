"""axe-core in the browser tests: inject the pinned axe.min.js (tests/browser/axe, installed from the npm registry
by ``scripts/ensure-axe``) into a tool page or frame and run the WCAG 2.0/2.1 level A and AA rules.

:class:`Audit` collects the violations of every page a walk visits and fails once, at the end, with all of them
(rule, impact, help, the elements' selectors), so one run shows everything left to fix. Without axe-core (npm
missing) the checks skip with the reason, except under CI (``CI`` or ``LTI_TOOL_REQUIRE_BROWSER`` set) where they
fail, as the browser tests do without Chromium.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from dataclasses import field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")

# Run inside the page. Frames are not followed: the provider's frame is the provider's content (docs/accessibility.md),
# and the tool's own pages inside the LMS are audited as frames of their own.
RUN_AXE = """async (tags) => {
  const result = await window.axe.run(document, {runOnly: {type: "tag", values: tags}, iframes: false,
                                                 resultTypes: ["violations"]});
  return result.violations.map((rule) => ({
    id: rule.id, impact: rule.impact, help: rule.help, url: rule.helpUrl,
    nodes: rule.nodes.map((node) => ({target: node.target.map(String).join(" "), summary: node.failureSummary}))}));
}"""


def axe_version() -> str:
    return str(json.loads((AXE_JS.parent / "package.json").read_text())["version"])


@cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def require_axe() -> None:
    if AXE_JS.exists():
        return
    reason = f"axe-core is missing ({AXE_JS}): run scripts/ensure-axe (needs npm) or make install"
    if os.environ.get("CI") or os.environ.get("LTI_TOOL_REQUIRE_BROWSER"):
        pytest.fail(f"ACCESSIBILITY CHECK CANNOT RUN: {reason}", pytrace=False)
    pytest.skip(f"ACCESSIBILITY CHECK SKIPPED: {reason}")


def axe_violations(target: Any) -> list[dict[str, Any]]:
    """The WCAG 2.1 A/AA violations of a Playwright Page or Frame, as it is now.

    The source is evaluated through the DevTools protocol, so the tool's Content-Security-Policy (script-src 'self')
    does not stand in the way, and nothing is added to the page's DOM.
    """
    require_axe()
    if not target.evaluate("() => typeof window.axe === 'object'"):
        target.evaluate("() => {\n" + _axe_source() + "\n}")
    violations: list[dict[str, Any]] = target.evaluate(RUN_AXE, list(WCAG_TAGS))
    return violations


def describe(where: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{where}:"]
    for rule in violations:
        lines.append(f"  [{rule['impact']}] {rule['id']}: {rule['help']} ({rule['url']})")
        for node in rule["nodes"][:8]:
            lines.append(f"      {node['target']}")
        if len(rule["nodes"]) > 8:
            lines.append(f"      … and {len(rule['nodes']) - 8} more")
    return "\n".join(lines)


@dataclass
class Audit:
    """The pages a walk checked and what axe found on them; :meth:`assert_clean` fails with every violation."""

    locale: str = "en"
    checked: list[str] = field(default_factory=list)
    found: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def check(self, target: Any, where: str) -> None:
        target.wait_for_load_state()
        name = f"{where} [{self.locale}]"
        self.checked.append(name)
        violations = axe_violations(target)
        if violations:
            self.found[name] = violations

    def assert_clean(self) -> None:
        print(f"axe-core {axe_version()}: {len(self.checked)} pages checked, {len(self.found)} with violations")
        if self.found:
            report = "\n".join(describe(where, rules) for where, rules in self.found.items())
            pytest.fail(f"axe-core {axe_version()} found WCAG 2.1 A/AA violations on {len(self.found)} of "
                        f"{len(self.checked)} pages:\n{report}", pytrace=False)
