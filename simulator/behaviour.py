"""Switches for what Atlassian's documentation leaves open (confluence-api.md §5.9, §5.10).

``sim.behaviour`` (a ``Behaviour``) is read on every request, so tests may change it while the
server runs: ``sim.behaviour.configure(lag_seconds=5, suspend_answer="200-empty")`` or
``with sim.behaviour.override(...)``, or over HTTP ``POST /_simulator/behaviour`` with the same
names in camelCase. ``sim.reset()`` puts every switch back to its default.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from simulator.settings import LiveSettings

SUSPEND_ANSWERS = ("204", "200-message", "200-empty")
IDP_REMOVALS = ("refuse", "accept")
GROUP_ROLE_REVOKES = ("ignore", "refuse")


@dataclass(frozen=True, slots=True)
class BehaviourConfig:
    """One set of switches (defaults: the simulator's behaviour before they existed).

    - ``lag_seconds``: every write's effect becomes visible to reads this long after the write
      (on the simulator's clock; Atlassian documents up to 30 s for role changes).
    - ``suspend_answer``: what a successful suspend/restore answers — ``204`` (no body),
      ``200-message`` (200 + ``{"message": …}``, as v1 answers since its change) or
      ``200-empty`` (200, no body): v2's success answer is undocumented.
    - ``idp_removal``: removing a member of a group synced from an identity provider is
      ``refuse``d (403) or ``accept``ed (204; the next IdP push puts the member back).
    - ``idp_push_seconds``: with ``accept``, push the IdP membership back automatically this
      long after a removal (None: only ``sim.actions.idp_push()`` does).
    - ``group_fields``: serve ``usageType``/``managedBy`` on v1 groups (Atlassian's current v1
      reference shows them; the 2021 description does not: a client must cope without).
    - ``suspension_hides_memberships``: while suspended, an account is left out of group member
      lists and ``memberof`` (its memberships come back on restore either way).
    - ``revoke_group_role``: ``roles/revoke`` of a role the account holds only through a group
      is ``ignore``d (204, the role stays) or ``refuse``d (400): undocumented.
    - ``event_delay_seconds``: an event appears in the stream this long after its action
      (its ``processedAt``); ``event_duplicate_rate``: share of stream pages that deliver the
      previous page's last event again (at-least-once delivery).
    """

    lag_seconds: float = 0.0
    suspend_answer: str = "204"
    idp_removal: str = "refuse"
    idp_push_seconds: float | None = None
    group_fields: bool = True
    suspension_hides_memberships: bool = False
    revoke_group_role: str = "ignore"
    event_delay_seconds: float = 0.0
    event_duplicate_rate: float = 0.0

    def __post_init__(self) -> None:
        choices = {
            "suspend_answer": SUSPEND_ANSWERS,
            "idp_removal": IDP_REMOVALS,
            "revoke_group_role": GROUP_ROLE_REVOKES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {getattr(self, name)!r}")
        for name in ("lag_seconds", "event_delay_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.idp_push_seconds is not None and self.idp_push_seconds < 0:
            raise ValueError("idp_push_seconds must not be negative")
        if not 0.0 <= self.event_duplicate_rate <= 1.0:
            raise ValueError("event_duplicate_rate must be between 0 and 1")


FIELD_NAMES = tuple(f.name for f in fields(BehaviourConfig))


def camel(name: str) -> str:
    """lag_seconds → lagSeconds (the HTTP control route's spelling)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Behaviour(LiveSettings[BehaviourConfig]):
    """The current switches; thread-safe to change while serving."""

    def __init__(self, config: BehaviourConfig | None = None) -> None:
        super().__init__(config or BehaviourConfig(), "behaviour switches")

    def __getattr__(self, name: str) -> Any:
        if name in FIELD_NAMES:
            return getattr(self.config, name)
        raise AttributeError(name)

    def configure_camel(self, changes: dict[str, Any]) -> BehaviourConfig:
        """configure() with the HTTP spelling (lagSeconds, suspendAnswer, …)."""
        by_camel = {camel(name): name for name in FIELD_NAMES}
        unknown = set(changes) - by_camel.keys()
        if unknown:
            raise TypeError(f"unknown behaviour switches: {sorted(unknown)}")
        return self.configure(**{by_camel[k]: v for k, v in changes.items()})

    def reset(self) -> None:
        """Every switch back to its default."""
        with self._lock:
            self.config = BehaviourConfig()

    def as_json(self) -> dict[str, Any]:
        """The switches, camelCase, JSON-ready."""
        return {camel(name): getattr(self.config, name) for name in FIELD_NAMES}
