"""The pipeline side: CI context from the environment and the events a step records (pure)."""
