"""`python -m simulator` runs the simulator CLI."""

from __future__ import annotations

from simulator.cli import main

main()
