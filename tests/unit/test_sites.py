"""What people type as a Confluence site, normalised or refused."""

from __future__ import annotations

import pytest

from services.integrations.sites import InvalidDomain, site_base_url


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("acme.atlassian.net", "https://acme.atlassian.net"),
        ("https://x.atlassian.net/wiki/", "https://x.atlassian.net"),
        ("  HTTPS://Acme-Corp.Atlassian.NET/wiki/spaces/POL  ", "https://acme-corp.atlassian.net"),
    ],
)
def test_atlassian_sites_are_normalised(typed: str, expected: str) -> None:
    assert site_base_url(typed, field="domain", allow_insecure=False) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "evil.com",
        "http://acme.atlassian.net",
        "acme.atlassian.net.evil.com",
        "https://acme.atlassian.net:8443",
        "https://user@acme.atlassian.net",
        "a.b.atlassian.net",
        "http://127.0.0.1:8000/site/acme",
    ],
)
def test_anything_else_is_refused_without_insecure_urls(typed: str) -> None:
    with pytest.raises(InvalidDomain) as err:
        site_base_url(typed, field="domain", allow_insecure=False)
    assert err.value.code == "INVALID_DOMAIN" and err.value.field == ["domain"]


@pytest.mark.parametrize(
    "typed",
    [
        "acme.atlassian.net:abc",
        "acme.atlassian.net:99999",
        "http://[::1",
        "https://[::1]:abc/",
        "acme\n.atlassian.net",
        "acme.atlassian.net\r\nX-Evil: 1",
        "acme .atlassian.net",
        "https:evil.com",
        "https://acme.atlassian.net\x00",
    ],
)
@pytest.mark.parametrize("insecure", [False, True])
def test_malformed_urls_are_invalid_domain_not_exceptions(typed: str, insecure: bool) -> None:
    with pytest.raises(InvalidDomain) as err:
        site_base_url(typed, field="domain", allow_insecure=insecure)
    assert err.value.field == ["domain"] and "not an Atlassian Cloud site" in err.value.message


def test_insecure_urls_keep_host_port_and_path_for_the_simulator() -> None:
    url = site_base_url(
        "http://127.0.0.1:8123/site/acme/wiki/", field="domain", allow_insecure=True
    )
    assert url == "http://127.0.0.1:8123/site/acme"
    assert (
        site_base_url("acme.atlassian.net", field="d", allow_insecure=True)
        == "https://acme.atlassian.net"
    )
