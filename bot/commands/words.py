"""Words users read for what the system names in identifiers (resources, for now)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

RESOURCES: Final = {"voice_minutes": "minutes", "sms": "SMS", "mms": "MMS"}


def resource_name(resource: str) -> str:
    """``voice_minutes`` -> ``minutes``; a resource of another deployment as written."""
    return RESOURCES.get(resource, resource.replace("_", " "))


def quantities(amounts: Mapping[str, int], order: tuple[str, ...] = ()) -> str:
    """``{"sms": 100, "voice_minutes": 300}`` -> ``300 minutes, 100 SMS`` (in ``order``)."""
    ranked = sorted(amounts, key=lambda r: (order.index(r) if r in order else len(order), r))
    return ", ".join(f"{amounts[r]} {resource_name(r)}" for r in ranked)
