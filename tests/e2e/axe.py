"""axe-core in the browser tests: inject the vendored engine, run WCAG 2.x A/AA, list violations.

The app's CSP (``script-src 'self'``, no inline, no eval) refuses ``page.add_script_tag`` with
inline content. ``page.evaluate`` goes through the DevTools protocol (Runtime.evaluate), which a
page's CSP does not govern, so the vendored source is evaluated that way; nothing is served by the
application and nothing is downloaded at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
# WCAG 2.1 A/AA, and WCAG 2.2 and axe's best practices too: what axe runs by default.
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice")


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"[{self.impact}] {self.rule}: {self.help} at {', '.join(self.targets)}"


@cache
def _axe_source() -> str:
    # A trailing expression so that evaluate returns something serialisable.
    return AXE_JS.read_text(encoding="utf-8") + "\n;typeof window.axe"


def inject_axe(page: object) -> None:
    """Load axe-core into ``page`` (once per document) despite the page's CSP."""
    if page.evaluate("typeof window.axe") == "object":
        return
    loaded = page.evaluate(_axe_source())
    if loaded != "object":
        raise AssertionError(f"axe-core did not load in the page (typeof axe: {loaded!r})")


_RUN = """async (tags) => {
  const result = await window.axe.run(document, {
    runOnly: { type: 'tag', values: tags },
    resultTypes: ['violations'],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({ impact: n.impact, target: n.target.map(String).join(' ') })),
  }));
}"""


def axe_violations(
    page: object, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[Violation]:
    """WCAG_TAGS violations on the page now, one per rule and impact, of ``impacts``."""
    inject_axe(page)
    found = []
    for rule in page.evaluate(_RUN, list(WCAG_TAGS)):
        by_impact: dict[str, list[str]] = {}
        for node in rule["nodes"]:
            impact = node["impact"] or rule["impact"]
            by_impact.setdefault(impact, []).append(node["target"])
        for impact, targets in by_impact.items():
            if impact in impacts:
                found.append(Violation(rule["id"], impact, rule["help"], tuple(targets)))
    return found


def assert_accessible(
    page: object, impacts: tuple[str, ...] = ("serious", "critical"), where: str = ""
) -> None:
    """Fail with a readable list when axe finds a violation of ``impacts`` on the page."""
    violations = axe_violations(page, impacts)
    if violations:
        lines = "\n  ".join(str(v) for v in violations)
        raise AssertionError(
            f"axe-core: {len(violations)} violation(s) on {where or page.url}:\n  {lines}"
        )
