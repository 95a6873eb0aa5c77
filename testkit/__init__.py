"""What the tests and the benchmarks share: a live Vigil under uvicorn, a wire-protocol
MongoDB server, GraphQL clients, fixed-credential connectors, sync runners and the sync's
ground truth, the token-refresh race, waiting on a condition (``conditions.until``), long
evidence chains written in bulk (``evidence_chain``).

Plain functions and classes, no pytest fixtures (``tests/conftest.py`` wraps them). Nothing
of Vigil imports this package (import-linter); it imports Vigil and the simulator, never
``tests`` or ``bench`` (``tests/test_testkit.py``).
"""
