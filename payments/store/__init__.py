"""Redis plumbing shared by every capability: the connection, the Lua scripts
(``lua/``, one file per atomic change), locks, the outbox and the bot's state.

Each capability keeps its own store module (``payments/ledger/store.py``,
``payments/billing/store.py`` ...); ``payments/stores.py`` gathers them over
one client.
"""
