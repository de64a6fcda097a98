"""Benchmarks and the fault-injection matrix (``make bench``); see bench/README.md.

A package so that tests/resilience can import the matrix and its invariants from
``bench.faults`` and ``bench.rig``. Nothing here is shipped or imported by the product.
"""
