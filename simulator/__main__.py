"""`python -m simulator` runs the simulator CLI."""

from __future__ import annotations

from simulator.server import main

main()
