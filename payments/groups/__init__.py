"""Payer groups: a main account paying for its leaves; joins, leaves, invitation codes."""
