"""Reproducible benchmarks of Flightlog, each measured against a baseline of the same run.

Run ``python bench/run_all.py`` (``make bench``); figures are written to ``bench/RESULTS.md``
and scratch files to ``bench/data/`` (git-ignored).
"""
