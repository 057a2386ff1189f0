"""The ledger: balances and the entries that explain them, changed together, once per ref."""
