from __future__ import annotations

import pytest

from payments.jid import BadJID, normalise_jid


@pytest.mark.parametrize(
    ("text", "bare"),
    [
        ("Alice@Example.ORG/phone", "alice@example.org"),
        ("  bob@example.org ", "bob@example.org"),
        ("ÄLICE@example.org", "älice@example.org"),
    ],
)
def test_normalises_to_lowercase_bare_jid(text: str, bare: str) -> None:
    assert normalise_jid(text) == bare


@pytest.mark.parametrize(
    "text",
    ["", "   ", "example.org", "@example.org", "a b@x.org", "a{b}@x.org", "x" * 2000 + "@a.org"],
)
def test_refuses_what_is_not_a_user_jid(text: str) -> None:
    with pytest.raises(BadJID):
        normalise_jid(text)
