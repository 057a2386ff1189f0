"""HMAC-SHA256 signatures of webhook bodies, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def matches(expected_hex: str, candidates: list[str]) -> bool:
    """True when one candidate equals the expected digest (each compared in constant time)."""
    found = False
    for candidate in candidates:
        # compare_digest on bytes: a non-ASCII candidate must not raise TypeError.
        found |= hmac.compare_digest(expected_hex.encode(), candidate.encode("utf-8", "replace"))
    return found
