"""Confluence Cloud + Atlassian auth/admin simulator for Vigil's tests, demos and benchmarks.

Typical use::

    from simulator import Simulator, generate_site, start_simulator

    sim = Simulator(generate_site(users=50, groups=8, pages=20, seed=7))
    with start_simulator(sim) as running:
        running.site_url()        # plays https://acme.atlassian.net
        running.auth_url          # plays https://auth.atlassian.com
        running.api_url           # plays https://api.atlassian.com
        sim.site.members_of(...)  # ground truth, never via HTTP
"""

from __future__ import annotations

from simulator.app import create_simulator_app
from simulator.clock import SimClock
from simulator.core import Simulator, SimulatorConfig
from simulator.counters import DROPPED, Counters
from simulator.credentials import ApiTokenCredential, Credentials
from simulator.faults import QUOTA_GLOBAL, QUOTA_TENANT, FaultConfig, Faults
from simulator.generate import generate_site
from simulator.model import Account, Group, Page, Space
from simulator.scopes import VIGIL_SCOPES
from simulator.server import RunningSimulator, start_simulator
from simulator.site import Site, load_site, load_sites
from simulator.tokens import TokenPolicy

__all__ = [
    "DROPPED",
    "QUOTA_GLOBAL",
    "QUOTA_TENANT",
    "VIGIL_SCOPES",
    "Account",
    "ApiTokenCredential",
    "Counters",
    "Credentials",
    "FaultConfig",
    "Faults",
    "Group",
    "Page",
    "RunningSimulator",
    "SimClock",
    "Simulator",
    "SimulatorConfig",
    "Site",
    "Space",
    "TokenPolicy",
    "create_simulator_app",
    "generate_site",
    "load_site",
    "load_sites",
    "start_simulator",
]
