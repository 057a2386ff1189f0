"""Reading providers' JSON bodies: every malformed shape is a MALFORMED refusal."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from payments.topup.providers.base import ProviderError, Refusal, WebhookRefused


def json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRefused(Refusal.MALFORMED, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WebhookRefused(Refusal.MALFORMED, "not a JSON object")
    return data


def text_field(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise WebhookRefused(Refusal.MALFORMED, f"{name}: expected a non-empty string")
    return value


def int_field(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if type(value) is not int:  # bool and float are refused: money is never a float
        raise WebhookRefused(Refusal.MALFORMED, f"{name}: expected an integer")
    return value


def object_field(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise WebhookRefused(Refusal.MALFORMED, f"{name}: expected an object")
    return value


def response_json(status: int, text: str, what: str) -> dict[str, Any]:
    """The JSON object of a provider's API answer, or ProviderError."""
    if status >= 300:
        raise ProviderError(f"{what}: HTTP {status}: {text[:200]}")
    try:
        data = json.loads(text)
    except ValueError:
        raise ProviderError(f"{what}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise ProviderError(f"{what}: the answer is not a JSON object")
    return data


def answer_text(data: Mapping[str, Any], name: str, what: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ProviderError(f"{what}: the answer has no {name}")
    return value
