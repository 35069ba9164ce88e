"""API tokens: scoped bearer secrets, stored only as SHA-256 digests."""
