"""Deterministic generation of a realistic Confluence site from a seed."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from simulator.content import (
    EXTRA_POLICY_LABELS,
    OTHER_LABELS,
    OTHER_TITLES,
    POLICY_TITLES,
    other_body,
    policy_body,
)
from simulator.model import POLICY_LABEL, REQUIRED_SECTIONS, Account, Group, Page, Space
from simulator.roles import ADMIN, GUEST, SITE_ADMIN, USER
from simulator.site import Site

_FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Tim",
    "Radia",
    "Guido",
    "Hedy",
    "Edsger",
    "Katherine",
    "John",
    "Sophie",
    "Yukihiro",
    "Anita",
    "Bjarne",
    "Joan",
    "Leslie",
    "Shafi",
    "Donald",
    "Mary",
    "Niklaus",
]
_LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Berners-Lee",
    "Perlman",
    "Rossum",
    "Lamarr",
    "Dijkstra",
    "Johnson",
    "McCarthy",
    "Wilson",
    "Matsumoto",
    "Borg",
    "Stroustrup",
    "Clarke",
    "Lamport",
    "Goldwasser",
    "Knuth",
    "Keller",
    "Wirth",
]
_TEAMS = [
    "engineering",
    "product",
    "design",
    "sales",
    "marketing",
    "finance",
    "legal",
    "support",
    "security",
    "data",
    "platform",
    "mobile",
    "web",
    "infra",
    "people",
    "it",
    "ops",
    "research",
    "qa",
    "growth",
]
_ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Etc/UTC")
_SPACES = (
    ("POL", "Company Policies"),
    ("SEC", "Security"),
    ("HR", "People Team"),
    ("ENG", "Engineering"),
    ("OPS", "Operations"),
    ("PM", "Product"),
)
_OTHER_DOMAINS = ("gmail.example", "contractor.example")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _stable_id(text: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vigil-simulator:{text}"))


def default_now() -> datetime:
    """Midnight UTC today: ages stay meaningful while a day's runs stay identical."""
    today = datetime.now(UTC).date()
    return datetime(today.year, today.month, today.day, tzinfo=UTC)


def _operators(domain: str, now: datetime) -> list[tuple[str, Account]]:
    added = now - timedelta(days=900)
    admin = Account(
        f"557058:{_stable_id('admin@' + domain)}",
        "Vigil Admin",
        email=f"vigil-admin@{domain}",
        mfa_enabled=True,
        last_active=now - timedelta(hours=2),
        added_to_org=added,
    )
    member = Account(
        f"557058:{_stable_id('member@' + domain)}",
        "Vigil Reader",
        email=f"vigil-reader@{domain}",
        mfa_enabled=True,
        last_active=now - timedelta(days=1),
        added_to_org=added,
    )
    service = Account(
        _stable_id("service@" + domain).replace("-", "")[:24],
        "Vigil Service Account",
        email=f"vigil-service@{domain.split('.')[0]}.serviceaccount.example",
        account_type="app",
        added_to_org=added,
    )
    for account in (admin, member, service):
        account.public_name = account.display_name
    return [("admin", admin), ("member", member), ("service", service)]


def _account(i: int, rng: random.Random, domain: str, now: datetime) -> Account:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    roll = rng.random()
    kind = (
        "atlassian" if roll < 0.85 else "app" if roll < 0.91 else "customer" if roll < 0.96 else ""
    )
    roll = rng.random()
    status = "active" if roll < 0.85 else "inactive" if roll < 0.94 else "closed"
    if rng.random() < 0.01:
        status = "unknown"
    if kind == "app":
        account_id = f"{rng.getrandbits(96):024x}"
        name, email = f"{first} Bot {i}", ""
    else:
        account_id = (
            f"qm:{_uuid(rng)}:{_uuid(rng)}" if kind == "customer" else f"557058:{_uuid(rng)}"
        )
        name = f"{first} {last}"
        mail_domain = "customer.example" if kind == "customer" else domain
        if kind != "customer" and rng.random() < 0.2:
            mail_domain = rng.choice(_OTHER_DOMAINS)
        email = f"{first}.{last}.{i}@{mail_domain}".lower()
    managed = email.endswith("@" + domain)
    if status == "active":
        last_active = None if rng.random() < 0.05 else now - timedelta(hours=rng.randint(1, 2000))
    else:
        last_active = now - timedelta(days=rng.randint(100, 600))
    return Account(
        account_id=account_id,
        display_name=name,
        public_name=name if rng.random() < 0.7 else first,
        email=email,
        email_visible=bool(email) and rng.random() >= 0.3,
        account_type=kind,
        account_status=status,
        time_zone=rng.choice(_ZONES),
        is_external_collaborator=kind == "atlassian" and rng.random() < 0.02,
        mfa_enabled=(rng.random() < 0.8) if managed else None,
        last_active=last_active,
        added_to_org=now - timedelta(days=rng.randint(30, 1500)),
    )


def _groups(
    count: int, accounts: list[Account], ops: dict[str, str], rng: random.Random
) -> list[Group]:
    ids = [a.account_id for a in accounts]
    staff = [a.account_id for a in accounts if a.account_type in ("atlassian", "")]
    # The roles each group carries on the site (confluence-api.md §5.9): the default access
    # group gives `atlassian/user`, the Confluence admin group `atlassian/admin` as well, and
    # `site-admins` the site-admin role too; team groups give access.
    users = Group(_uuid(rng), "confluence-users", [ops["admin"], ops["member"]], roles=(USER,))
    users.member_ids += [a for a in staff if rng.random() < 0.95]
    admins = Group(
        _uuid(rng),
        "confluence-administrators",
        [ops["admin"], ops["service"]],
        roles=(USER, ADMIN),
    )
    admins.member_ids += [a for a in staff if rng.random() < 0.02]
    site_admins = Group(_uuid(rng), "site-admins", [ops["admin"]], roles=(USER, ADMIN, SITE_ADMIN))
    site_admins.member_ids += [a for a in staff if rng.random() < 0.005]
    groups = [users, admins, site_admins]
    for n in range(max(0, count - len(groups))):
        name = f"{_TEAMS[n % len(_TEAMS)]}-team" + (
            f"-{n // len(_TEAMS)}" if n >= len(_TEAMS) else ""
        )
        roll = rng.random()
        size = 0 if roll < 0.05 else rng.randint(201, 450) if roll < 0.12 else rng.randint(1, 60)
        members = rng.sample(ids, min(size, len(ids)))
        groups.append(Group(_uuid(rng), name, members, roles=(USER,)))
    return groups


ACCESS_MODELS = ("groups", "varied")
# Roles a team group carries in a varied site, with their weights: many give access, some
# give none (permission-only groups), a few admin rights or guest access only.
_TEAM_ROLES: tuple[tuple[tuple[str, ...], int], ...] = (
    ((USER,), 45),
    ((), 30),
    ((USER, ADMIN), 8),
    ((ADMIN,), 5),
    ((GUEST,), 7),
    ((SITE_ADMIN,), 5),
)


def _vary_access(site: Site, rng: random.Random) -> None:
    """Access through roles as Atlassian grants it: groups without access, admin or guest
    groups, groups synced from an identity provider, direct grants (no group), suspensions."""
    operators = set(site.operators.values())
    people = [a for a in site.accounts if a not in operators]
    users_group = site.group_by_name("confluence-users")
    if users_group is not None:
        users_group.member_ids[:] = [
            m for m in users_group.member_ids if m in operators or rng.random() < 0.6
        ]
    site_admins = site.group_by_name("site-admins")
    if site_admins is not None and rng.random() < 0.5:
        site_admins.roles = (SITE_ADMIN,)  # site administration without Confluence access
    choices, weights = zip(*_TEAM_ROLES, strict=True)
    for group in site.groups.values():
        if group.name in ("confluence-users", "confluence-administrators", "site-admins"):
            continue
        group.roles = rng.choices(choices, weights)[0]
        if rng.random() < 0.2:
            group.synced = True
            group.idp_member_ids = list(group.member_ids)
    for account_id in people:
        roll = rng.random()
        if roll < 0.12:
            site.direct_roles[account_id] = (USER,)
        elif roll < 0.15:
            site.direct_roles[account_id] = (ADMIN,)
        elif roll < 0.16:
            site.direct_roles[account_id] = (SITE_ADMIN,)
        elif roll < 0.18:
            site.direct_roles[account_id] = (GUEST,)
        if rng.random() < 0.08:
            site.suspended.add(account_id)
    site.touch()


def _spaces(count: int, admin_id: str, rng: random.Random, now: datetime) -> list[Space]:
    spaces = []
    for n in range(count):
        key, name = _SPACES[n] if n < len(_SPACES) else (f"TEAM{n}", f"Team Space {n}")
        created = now - timedelta(days=rng.randint(400, 2000))
        spaces.append(
            Space(
                str(98304 + n * 7),
                key,
                name,
                restricted=key == "HR",
                created_at=created,
                author_id=admin_id,
            )
        )
    return spaces


def _pages(
    count: int, spaces: list[Space], authors: list[str], rng: random.Random, now: datetime
) -> list[Page]:
    pages: list[Page] = []
    policy_spaces = [s.key for s in spaces[:3]]
    n_policy = max(min(count, len(POLICY_TITLES)), int(count * 0.3)) if count else 0
    for n in range(count):
        created = now - timedelta(days=rng.randint(30, 1800), minutes=rng.randint(0, 1439))
        age = rng.randint(370, 1500) if rng.random() < 0.2 else rng.randint(1, 300)
        modified = max(created, now - timedelta(days=age, minutes=rng.randint(0, 600)))
        if n < n_policy:
            base = POLICY_TITLES[n % len(POLICY_TITLES)]
            title = base if n < len(POLICY_TITLES) else f"{base} ({2015 + n // len(POLICY_TITLES)})"
            missing = tuple(s for s in REQUIRED_SECTIONS if rng.random() < 0.08)
            body = policy_body(base, missing, rng)
            extra = rng.choice(EXTRA_POLICY_LABELS)
            labels = [POLICY_LABEL, extra] if extra else [POLICY_LABEL]
            space = rng.choice(policy_spaces)
            status = "archived" if rng.random() < 0.08 else "current"
        else:
            title = f"{rng.choice(OTHER_TITLES)} {n}"
            body = other_body(title, rng)
            label = rng.choice(OTHER_LABELS)
            labels = [label] if label else []
            space = rng.choice(spaces).key
            status = "current"
        pages.append(
            Page(
                str(65536 + n * 3 + 1),
                title,
                space,
                body=body,
                status=status,
                labels=labels,
                version=rng.randint(1, 30),
                last_modified=modified,
                last_modified_by=rng.choice(authors),
                created_at=created,
                created_by=rng.choice(authors),
            )
        )
    return pages


def generate_site(
    users: int = 200,
    groups: int = 20,
    pages: int = 60,
    seed: int = 1,
    *,
    name: str = "acme",
    domain: str | None = None,
    spaces: int | None = None,
    now: datetime | None = None,
    access: str = "groups",
) -> Site:
    """Generate a site; the same arguments always give identical data.

    `groups` counts the standard groups (confluence-users, confluence-administrators,
    site-admins) and is at least 3. Three operator accounts (admin, reader, service) are
    added on top of `users`. `now` defaults to midnight UTC today.

    `access`: ``groups`` (every group gives Confluence access; admin rights through the admin
    groups) or ``varied`` (random roles per group — some none, some admin, guest or site-admin
    only —, IdP-synced groups, direct grants without a group, suspensions: the random sites
    of property tests; the rest of the data is the same as with ``groups``).
    """
    if access not in ACCESS_MODELS:
        raise ValueError(f"access must be one of {ACCESS_MODELS}")
    rng = random.Random(f"{seed}:{name}")
    now = now or default_now()
    domain = domain or f"{name}.example"
    operators = _operators(domain, now)
    ops = {role: account.account_id for role, account in operators}
    people = [_account(i, rng, domain, now) for i in range(users)]
    accounts = [a for _, a in operators] + people
    group_list = _groups(groups, people, ops, rng)
    space_list = _spaces(
        spaces if spaces is not None else max(3, min(40, pages // 40)), ops["admin"], rng, now
    )
    authors = [ops["admin"]] + [a.account_id for a in people[:50] if a.account_type == "atlassian"]
    page_list = _pages(pages, space_list, authors, rng, now) if space_list else []
    site = Site(
        name,
        _stable_id(f"cloud:{name}:{seed}"),
        verified_domains=[domain],
        generated_at=now,
        accounts=accounts,
        groups=group_list,
        spaces=space_list,
        pages=page_list,
        operators=ops,
    )
    if access == "varied":
        _vary_access(site, random.Random(f"{seed}:{name}:access"))
    return site
