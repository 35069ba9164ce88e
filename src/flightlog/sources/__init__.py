"""Source adapters: one module per producer, turning its requests into events."""
