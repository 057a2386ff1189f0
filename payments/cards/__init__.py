"""Saved cards: invoices paid by card, automatic top-ups, refunds and disputes."""
