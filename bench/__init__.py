"""Benchmarks and the fault-injection matrix (``make bench``); see bench/README.md.

A package so that the scripts can import each other (``bench.common``, ``bench.program``).
Nothing here is shipped or imported by the product or the tests.
"""
