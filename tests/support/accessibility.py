"""An accessibility check in Chromium: axe-core (vendored in ``vendor/axe-core``) run in
the page under test, its violations returned as plain data.

axe-core checks the rendered page (computed contrast, names of controls and
regions, headings, landmarks, ARIA) against WCAG 2.x A and AA and best
practices. Each violation has an ``impact``: minor, moderate, serious, critical.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from tests.support import ROOT
from tests.support.chromium import Page

AXE = ROOT / "tests" / "support" / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256: Final = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
SERIOUS: Final = frozenset({"serious", "critical"})
TAGS: Final = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice")


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.impact} {self.rule}: {self.help} at {', '.join(self.targets[:5])}"


def axe_source() -> str:
    data = AXE.read_bytes()
    if hashlib.sha256(data).hexdigest() != AXE_SHA256:
        raise RuntimeError(f"{AXE} is not the vendored axe-core 4.14.1 (see its README.md)")
    return data.decode("utf-8")


async def audit(page: Page) -> list[Violation]:
    """Every violation axe-core finds in the page as it is now."""
    await page.evaluate(axe_source())  # DevTools evaluation is not subject to the page's CSP
    options = json.dumps({"runOnly": {"type": "tag", "values": list(TAGS)}})
    result: Any = await page.call(
        "Runtime.evaluate",
        expression=f"axe.run(document, {options}).then(r => JSON.stringify(r.violations))",
        awaitPromise=True,
        returnByValue=True,
    )
    if "exceptionDetails" in result:
        raise RuntimeError(f"axe-core failed: {result['exceptionDetails']}")
    return [
        Violation(
            v["id"],
            v.get("impact") or "",
            v["help"],
            tuple(" ".join(map(str, n["target"])) for n in v["nodes"]),
        )
        for v in json.loads(result["result"]["value"])
    ]


def serious(violations: list[Violation]) -> list[str]:
    return [str(v) for v in violations if v.impact in SERIOUS]
