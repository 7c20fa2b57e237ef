"""The SSRF guard of the one outbound HTTP client (API.md: webhook URLs to private addresses
are refused at send time unless a setting allows them)."""

from __future__ import annotations

import socket

import pytest

from channels_app import http
from tests.receiver import running_receiver


@pytest.fixture
def guard_on(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False


def _resolving_to(monkeypatch, *addresses: str) -> None:
    """DNS answers for every name (no resolver can be run for arbitrary names here)."""

    def fake_getaddrinfo(host, port, *args, **kwargs):
        family = lambda a: socket.AF_INET6 if ":" in a else socket.AF_INET  # noqa: E731
        return [(family(a), socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "::ffff:127.0.0.1",
        "192.168.0.10",
        "100.64.0.1",
        "::1",
        "fd00::1",
        "0.0.0.0",
        "224.0.0.1",
    ],
)
def test_a_host_resolving_to_a_non_public_address_is_refused(guard_on, monkeypatch, address):
    _resolving_to(monkeypatch, address)
    with pytest.raises(http.WebhookTargetRefused, match=r"non-public|metadata"):
        http.post("https://hooks.example.com/in", body=b"{}", headers={})


def test_one_private_record_among_public_ones_refuses_the_host(guard_on, monkeypatch):
    _resolving_to(monkeypatch, "93.184.216.34", "10.0.0.7")
    with pytest.raises(http.WebhookTargetRefused, match=r"non-public address \(10\.0\.0\.7\)"):
        http.post("https://hooks.example.com/in", body=b"{}", headers={})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/x",
        "http://localhost:8000/x",
    ],
)
def test_literal_and_loopback_urls_are_refused_when_the_guard_is_on(guard_on, url):
    with pytest.raises(http.WebhookTargetRefused):
        http.post(url, body=b"{}", headers={})


def test_metadata_addresses_are_refused_even_when_private_targets_are_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with pytest.raises(http.WebhookTargetRefused, match="metadata"):
        http.post("http://169.254.169.254/latest/meta-data", body=b"{}", headers={})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "http:// or https://"),
        ("https://user:pw@example.com/x", "user name or password"),
        ("https:///nohost", "no host"),
    ],
)
def test_malformed_urls_are_refused(url, message):
    with pytest.raises(http.WebhookTargetRefused, match=message):
        http.validate_webhook_url(url)


def test_the_connection_goes_to_the_checked_address_with_the_original_host(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with running_receiver() as receiver:
        port = receiver.server.server_address[1]
        _resolving_to(monkeypatch, "127.0.0.1")
        result = http.post(
            f"http://hooks.example.test:{port}/in?x=1", body=b'{"a":1}', headers={"X-T": "1"}
        )
        [request] = receiver.wait_for(1)
    assert result.status == 200
    assert request.headers["host"] == f"hooks.example.test:{port}"
    assert request.path == "/in?x=1"
    assert request.body == b'{"a":1}'


def test_redirects_are_returned_not_followed(settings):
    from tests.receiver import Answer

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with running_receiver(
        [Answer(302, headers={"Location": "http://127.0.0.1:1/secret"})]
    ) as receiver:
        result = http.post(receiver.url, body=b"{}", headers={})
        receiver.wait_for(2, timeout=0.3)
    assert result.status == 302
    assert len(receiver.requests) == 1
