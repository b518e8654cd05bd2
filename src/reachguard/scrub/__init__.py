"""Campaign scrubbing: a whole contact list checked against the store in one set-based pass."""
