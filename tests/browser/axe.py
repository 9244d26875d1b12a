"""Run axe-core (npm, pinned in package-lock.json) in a page and describe its violations for a person to fix."""

from __future__ import annotations

from typing import Any

# WCAG 2.0, 2.1 and 2.2, levels A and AA (axe-core's tags; wcag22aa holds 2.5.8 target size).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary}))}));
}"""


def violations(page: Any, axe_source: str) -> list[dict]:
    """The page's WCAG A/AA violations (axe is injected through the DevTools protocol, so CSP does not block it)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    return page.evaluate(RUN, WCAG_TAGS)


def describe(found: list[dict], where: str) -> str:
    lines = [f"{len(found)} accessibility rule(s) violated on {where}:"]
    for violation in found:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['summary']}".replace("\n", " "))
    return "\n".join(lines)
