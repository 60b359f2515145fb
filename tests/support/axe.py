"""axe-core (npm, pinned in package.json) in the browser tests: WCAG 2.2 A and AA rules, serious and
critical findings only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
LAYOUTS = {
    "light": {"color_scheme": "light", "viewport": {"width": 1280, "height": 800}},
    "dark": {"color_scheme": "dark", "viewport": {"width": 1280, "height": 800}},
    "phone": {"color_scheme": "dark", "viewport": {"width": 390, "height": 844}, "is_mobile": True},
}
"""The layouts every view is checked in: light and dark on a desktop, and a phone (dark)."""


def with_axe(context: BrowserContext) -> BrowserContext:
    """Load axe-core into every page of `context` before the page's own scripts, as the DevTools protocol
    injects it: the pages' strict Content-Security-Policy does not apply to it, and nothing is reported."""
    context.add_init_script(path=str(AXE))
    return context


def serious_violations(page: Page, within: str | None = None) -> list[dict[str, Any]]:
    """What axe finds on `page` now (WCAG 2.2 A and AA), serious or critical only; inside the elements
    `within` selects, if given (a Chat in an app of one's own: the app's other components are the app's)."""
    found = page.evaluate(
        """async ([tags, within]) => (await axe.run(within ? {include: [[within]]} : document,
                                                    {runOnly: {type: 'tag', values: tags}})).violations""",
        [RULES, within],
    )
    return [violation for violation in found if violation["impact"] in ("serious", "critical")]


def assert_accessible(page: Page, where: str, within: str | None = None) -> None:
    found = serious_violations(page, within)
    summary = [
        {"rule": v["id"], "help": v["help"], "nodes": [" ".join(n["target"]) for n in v["nodes"][:5]]}
        for v in found
    ]
    assert not found, f"axe found, {where}:\n{json.dumps(summary, indent=1)}"
