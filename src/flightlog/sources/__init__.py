"""Sources: one module per producer, each turning what it sends into events (pure)."""
