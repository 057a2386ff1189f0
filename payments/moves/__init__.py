"""Moving an account to a new JID: ``move NEWJID`` and ``claim CODE``, ``admin move``."""
