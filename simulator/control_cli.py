"""`python -m simulator control --url URL COMMAND …`: drive a running simulator.

Every command is one request to the simulator's control routes (``simulator.control``) and
prints the JSON answer; a refused command prints the error and exits 1. Examples::

    python -m simulator control --url http://127.0.0.1:8090 grant-access 557058:…
    python -m simulator control --url … remove-member confluence-users 557058:…
    python -m simulator control --url … suspend 557058:… [--directory local-…]
    python -m simulator control --url … lag 5
    python -m simulator control --url … suspend-answer 200-empty
    python -m simulator control --url … guard off
    python -m simulator control --url … counters
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from simulator.behaviour import SUSPEND_ANSWERS
from simulator.routing import CONTROL_PREFIX

Send = Callable[[str, str, dict[str, Any] | None], tuple[int, Any]]


def http_send(base_url: str) -> Send:
    """A sender of control requests to the simulator at ``base_url`` (stdlib only)."""
    if not base_url.startswith(("http://", "https://")):
        raise SystemExit(f"--url must be an http(s) URL, got {base_url!r}")

    def send(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
            base_url.rstrip("/") + CONTROL_PREFIX + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    return send


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simulator control", description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="the simulator's base URL")
    commands = parser.add_subparsers(dest="command", required=True)

    def account_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("account_id")
        return sub

    for name, text in (("grant-access", "grant a role directly"), ("revoke-access", "revoke it")):
        sub = account_command(name, text)
        sub.add_argument("--role", default="atlassian/user")
        sub.add_argument("--site", default=None)
    for name in ("add-member", "remove-member"):
        sub = commands.add_parser(name, help=f"{name.split('-')[0]} a group member")
        sub.add_argument("group", help="group id or name")
        sub.add_argument("account_id")
        sub.add_argument("--site", default=None)
    for name in ("suspend", "restore"):
        account_command(name, f"{name} access (one directory, or all)").add_argument(
            "--directory", default=None
        )
    account_command("deactivate", "deactivate a managed account")
    account_command("reactivate", "activate it again")
    account_command("org-admin", "grant org-admin").add_argument("--revoke", action="store_true")
    commands.add_parser("idp-push", help="identity providers push their groups").add_argument(
        "--site", default=None
    )
    commands.add_parser("lag", help="read-back lag").add_argument("seconds", type=float)
    commands.add_parser("suspend-answer", help="suspend/restore answer").add_argument(
        "form", choices=SUSPEND_ANSWERS
    )
    commands.add_parser("behaviour", help="set switches: name=JSON …").add_argument(
        "settings", nargs="*"
    )
    commands.add_parser("guard", help="Atlassian Guard Standard").add_argument(
        "state", choices=("on", "off")
    )
    commands.add_parser("counters", help="requests per method and path").add_argument(
        "--reset", action="store_true"
    )
    commands.add_parser("apply-writes", help="apply lagging writes").add_argument(
        "--all", action="store_true"
    )
    commands.add_parser("advance", help="move the clock").add_argument("seconds", type=float)
    commands.add_parser("access", help="ground truth: Confluence access").add_argument(
        "--site", default=None
    )
    commands.add_parser("status", help="sites, switches, pending writes, events")
    return parser


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    command = args.command
    if command in ("grant-access", "revoke-access"):
        body = {"accountId": args.account_id, "role": args.role, "site": args.site}
        return "POST", f"/actions/{command}", body
    if command in ("add-member", "remove-member"):
        body = {"group": args.group, "accountId": args.account_id, "site": args.site}
        return "POST", f"/actions/{command}", body
    if command in ("suspend", "restore"):
        body = {"accountId": args.account_id, "directoryId": args.directory}
        return "POST", f"/actions/{command}", body
    if command in ("deactivate", "reactivate"):
        return "POST", f"/actions/{command}", {"accountId": args.account_id}
    if command == "org-admin":
        return (
            "POST",
            "/actions/org-admin",
            {"accountId": args.account_id, "admin": not args.revoke},
        )
    if command == "idp-push":
        return "POST", "/actions/idp-push", {"site": args.site}
    if command == "lag":
        return "POST", "/behaviour", {"lagSeconds": args.seconds}
    if command == "suspend-answer":
        return "POST", "/behaviour", {"suspendAnswer": args.form}
    if command == "behaviour":
        settings: dict[str, Any] = {}
        for item in args.settings:
            name, sep, value = item.partition("=")
            if not sep:
                raise SystemExit(f"expected name=value, got {item!r}")
            try:
                settings[name] = json.loads(value)
            except ValueError:
                settings[name] = value
        return ("POST", "/behaviour", settings) if settings else ("GET", "/behaviour", None)
    if command == "guard":
        return "POST", "/guard", {"enabled": args.state == "on"}
    if command == "counters":
        return ("POST", "/counters/reset", {}) if args.reset else ("GET", "/counters", None)
    if command == "apply-writes":
        return "POST", "/writes/apply", {"everything": args.all}
    if command == "advance":
        return "POST", "/clock", {"advanceSeconds": args.seconds}
    if command == "access":
        return "GET", "/access" + (f"?site={args.site}" if args.site else ""), None
    return "GET", "", None


def control_main(
    argv: list[str] | None = None,
    *,
    send: Send | None = None,
    echo: Callable[[str], Any] = print,
) -> int:
    """Run one control command; 0 on success, 1 when the simulator refused it."""
    args = _parser().parse_args(argv)
    method, path, body = _request(args)
    if body is not None:
        body = {k: v for k, v in body.items() if v is not None}
    status, answer = (send or http_send(args.url))(method, path, body)
    echo(json.dumps(answer, indent=1, sort_keys=True))
    return 0 if 200 <= status < 300 else 1


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m simulator control``."""
    sys.exit(control_main(argv))
