"""Recipient-side protection: the inbound SMS classifier (and, from other modules, reputation)."""
