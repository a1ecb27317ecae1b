"""The benchmark harness behind ``make bench`` (``python -m benchmarks.run``).

Modules: :mod:`benchmarks.run` (orchestration and the report),
:mod:`benchmarks.support` (emulator process, request counts, report sections),
one module per family (:mod:`~benchmarks.directories`, :mod:`~benchmarks.listing`,
:mod:`~benchmarks.transfer`, :mod:`~benchmarks.startup`) and
:mod:`benchmarks.emulator_bench` (the emulator's raw throughput, also runnable alone).
"""
