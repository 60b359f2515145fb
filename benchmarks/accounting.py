"""Where every request of a scenario went: completed, refused (by HTTP status) or failed (by reason).

A figure is only a figure when everything a scenario sent completed as expected. `Tally.ok` says whether
that holds; the results keep the raw counts beside every figure, and the report prints
`Tally.verdict()` ("FAILED (4/200)") instead of a number when it does not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.loadgen import RequestStats, StreamResult

COMPLETED, REFUSED, FAILED = "completed", "refused", "failed"


def outcome(result: StreamResult, expected_tokens: int | None, *, held: bool = False) -> tuple[str, str]:
    """What became of one stream: (`completed`, ""), (`refused`, status) or (`failed`, reason).

    `expected_tokens` None accepts any count. A `held` stream is one the scenario leaves on purpose once
    it has its first token (idle and disconnect scenarios): it completed if it was still streaming then.
    """
    if result.status is not None and result.status != 200:
        return REFUSED, str(result.status)
    if result.error is not None:
        return FAILED, result.error
    if result.status is None:
        return FAILED, "no response"
    if result.error_event:
        return FAILED, "error event"
    if held:
        if not result.left:
            return FAILED, "ended early"
        return (COMPLETED, "") if result.tokens else (FAILED, "no token")
    if not result.done:
        return FAILED, "cut"
    if expected_tokens is not None and result.tokens != expected_tokens:
        return FAILED, "wrong token count"
    return COMPLETED, ""


@dataclass
class Tally:
    """Counts of one scenario's requests (streams or plain HTTP requests)."""

    expected: int
    opened: int = 0
    completed: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of_streams(
        cls,
        results: Iterable[StreamResult],
        expected_tokens: int | None,
        *,
        expected: int,
        held: bool = False,
    ) -> Tally:
        """The tally of streams; `expected` is how many the scenario meant to open."""
        tally = cls(expected=expected)
        for result in results:
            tally.opened += result.connected
            kind, detail = outcome(result, expected_tokens, held=held)
            if kind == COMPLETED:
                tally.completed += 1
            else:
                (tally.refused if kind == REFUSED else tally.failed)[detail] += 1
        return tally

    @classmethod
    def of_requests(cls, stats: RequestStats) -> Tally:
        """The tally of closed-loop requests: a 200 completed, another status was refused."""
        sent = sum(stats.statuses.values()) + sum(stats.errors.values())
        unconnected = sum(n for reason, n in stats.errors.items() if reason.startswith("connect"))
        refused = Counter({str(s): n for s, n in stats.statuses.items() if s != 200})
        return cls(
            expected=sent,
            opened=sent - unconnected,
            completed=stats.statuses[200],
            refused=refused,
            failed=Counter(stats.errors),
        )

    @property
    def ok(self) -> bool:
        return self.expected > 0 and self.completed == self.expected

    def verdict(self) -> str:
        """`FAILED (completed/expected)`, or `ok (n/n)`."""
        return f"{'ok' if self.ok else 'FAILED'} ({self.completed:,}/{self.expected:,})"

    def detail(self) -> str:
        """The verdict with what went wrong, e.g. `FAILED (4/200): refused 429 x196`."""
        parts = [f"refused {status} x{n}" for status, n in sorted(self.refused.items())]
        parts += [f"{reason} x{n}" for reason, n in sorted(self.failed.items())]
        if self.opened != self.expected:
            parts.append(f"opened {self.opened}")
        return self.verdict() + (": " + ", ".join(parts) if parts else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "opened": self.opened,
            "completed": self.completed,
            "refused": dict(self.refused),
            "failed": dict(self.failed),
            "ok": self.ok,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tally:
        return cls(
            expected=data["expected"],
            opened=data["opened"],
            completed=data["completed"],
            refused=Counter(data["refused"]),
            failed=Counter(data["failed"]),
        )

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            expected=self.expected + other.expected,
            opened=self.opened + other.opened,
            completed=self.completed + other.completed,
            refused=self.refused + other.refused,
            failed=self.failed + other.failed,
        )


def judged(metrics: dict[str, Any], **tallies: Tally) -> dict[str, Any]:
    """`metrics` with the raw counts of each tally beside them, `ok`, and what failed (None when ok)."""
    bad = [f"{name} {tally.detail()}" for name, tally in tallies.items() if not tally.ok]
    return {
        **metrics,
        "tallies": {name: tally.as_dict() for name, tally in tallies.items()},
        "ok": not bad,
        "failure": "; ".join(bad) or None,
    }
