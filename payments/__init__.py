"""Payments: the domain, the Redis store, the billing chores and the web service.

This package never imports ``bot`` and opens no XMPP connection.
"""
