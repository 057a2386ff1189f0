"""What the oracle raises when a history breaks an invariant."""

from __future__ import annotations


class Violation(AssertionError):
    """An invariant broken: the message says which, of whom."""
