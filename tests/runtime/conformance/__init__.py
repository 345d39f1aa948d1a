"""Conformance models for the runtime: Keras builders (models.py), the real converters with an on-disk
cache (convert.py), the reference runtimes and comparison metrics (oracles.py) and the pytest fixture
(fixtures.py). benchmarks/ imports the same modules, so tests and benchmarks measure the same files.
"""
