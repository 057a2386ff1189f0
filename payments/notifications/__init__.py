"""Notification choices: which notices a user receives (``notify KIND on|off``)."""
