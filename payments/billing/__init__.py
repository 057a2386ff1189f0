"""Billing: plans snapshotted at purchase, monthly renewal, invoices, payment that settles
them, grace, freeze, closure. ``rules`` decides, ``store`` writes, ``texts`` is what users read."""
