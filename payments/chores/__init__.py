"""The chores: the runner (locks, schedules, dry runs) and the billing and usage chores."""
