"""Conformance models for the runtime: Keras builders (models.py), the real converters with an on-disk
cache (convert.py), the reference runtimes and comparison metrics (oracles.py), the pytest fixture
(fixtures.py), and the fuzzing pieces (mutations.py, fuzz_child.py). benchmarks/ imports the same
modules, so tests and benchmarks measure the same files.
"""
