"""Helpers shared by the tests: clients, bots, fakes, builders."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout
