"""Accounts: who is a user, of which kind and status, frozen or not, with which phone number."""
