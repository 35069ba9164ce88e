"""Lineage: projections of the ledger and the questions asked of them (trace, diff, suspects)."""
