"""The one outbound HTTP client: every webhook request goes through ``post``.

- SSRF guard at send time: every address the webhook host resolves to must be public (not
  loopback, private, link-local, metadata, CGNAT, multicast, reserved, or IPv4-mapped/6to4
  forms of those), unless ``WEBHOOK_ALLOW_PRIVATE_TARGETS`` is on. Cloud metadata addresses are
  refused even then.
- The connection goes to the address that was checked (no second DNS lookup to rebind), with
  the original host in ``Host`` and in TLS SNI/certificate checks.
- Redirects are never followed; timeouts are always set; the response read is capped.
- Connection pools are reused per worker process, keyed by (scheme, address, port, host).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

MAX_RESPONSE_BYTES = 64 * 1024
MAX_POOLS = 256
NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")
# Refused whatever the settings say: cloud instance metadata services.
ALWAYS_REFUSED = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}


class WebhookTargetRefused(Exception):
    """The URL may not be called (bad form, or an address the guard refuses). Never retried."""


@dataclass
class HttpResult:
    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body_snippet: str = ""
    error: str = ""
    timed_out: bool = False
    duration_ms: int = 0


def _unwrap(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IPv4 address hidden in an IPv4-mapped, 6to4 or Teredo IPv6 address, if any."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return address


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    inner = _unwrap(address)
    if address in ALWAYS_REFUSED or inner in ALWAYS_REFUSED:
        return False
    for candidate in {address, inner}:
        if (
            not candidate.is_global
            or candidate.is_multicast
            or candidate.is_reserved
            or candidate.is_unspecified
            or candidate.is_loopback
            or candidate.is_link_local
        ):
            return False
    # NAT64 prefixes reach IPv4 space through a translator: refuse them as well.
    return not (isinstance(address, ipaddress.IPv6Address) and address in NAT64_NETWORK)


def _allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False))


def validate_webhook_url(url: str) -> tuple[str, str, int, str]:
    """Checks the URL's form; returns (scheme, host, port, path with query). No DNS here."""
    if len(url) > 2000:
        raise WebhookTargetRefused("The webhook URL is longer than 2,000 characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebhookTargetRefused("The webhook URL must start with http:// or https://.")
    if not parts.hostname:
        raise WebhookTargetRefused("The webhook URL has no host.")
    if parts.username or parts.password:
        raise WebhookTargetRefused("The webhook URL must not contain a user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise WebhookTargetRefused("The webhook URL has an invalid port.") from error
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = parts.hostname
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and not _allow_private() and not is_public_address(literal):
        raise WebhookTargetRefused(f"The webhook URL points to a non-public address ({literal}).")
    if literal is not None and literal in ALWAYS_REFUSED:
        raise WebhookTargetRefused(f"The webhook URL points to a metadata address ({literal}).")
    return parts.scheme, host, port, path


def resolve_checked_address(host: str, port: int) -> str:
    """Resolves ``host`` and returns one address to connect to, if *every* address is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookTargetRefused(f"The webhook host {host!r} does not resolve.") from error
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise WebhookTargetRefused(f"The webhook host {host!r} does not resolve.")
    for address in addresses:
        if address in ALWAYS_REFUSED or _unwrap(address) in ALWAYS_REFUSED:
            raise WebhookTargetRefused(
                f"The webhook host resolves to a metadata address ({address})."
            )
        if not _allow_private() and not is_public_address(address):
            # One non-public record refuses the host: a rebinding resolver could pick it.
            raise WebhookTargetRefused(
                f"The webhook host resolves to a non-public address ({address})."
            )
    return str(addresses[0])


_pools: OrderedDict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = OrderedDict()
_pools_lock = threading.Lock()


def _pool_for(scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
    key = (scheme, address, port, host)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is not None:
            _pools.move_to_end(key)
            return pool
        if scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address,
                port,
                maxsize=8,
                server_hostname=host,
                assert_hostname=host,
                cert_reqs="CERT_REQUIRED",
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, port, maxsize=8)
        _pools[key] = pool
        while len(_pools) > MAX_POOLS:
            _, evicted = _pools.popitem(last=False)
            evicted.close()
        return pool


def _host_header(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return shown if port == default else f"{shown}:{port}"


def post(url: str, *, body: bytes, headers: dict[str, str]) -> HttpResult:
    """POSTs ``body`` to ``url`` under the guard. Raises ``WebhookTargetRefused``; other failures
    (connection, timeout) come back as an ``HttpResult`` with ``error`` set."""
    scheme, host, port, path = validate_webhook_url(url)
    address = resolve_checked_address(host, port)
    pool = _pool_for(scheme, address, port, host)
    timeout = urllib3.Timeout(
        connect=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        read=settings.WEBHOOK_TOTAL_TIMEOUT_SECONDS,
        total=settings.WEBHOOK_TOTAL_TIMEOUT_SECONDS,
    )
    request_headers = {
        "Host": _host_header(host, port, scheme),
        "Content-Type": "application/json",
        "User-Agent": "helpdesk-webhooks/1.0",
        **headers,
    }
    started = time.monotonic()
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers=request_headers,
            redirect=False,
            retries=False,
            timeout=timeout,
            preload_content=False,
            assert_same_host=False,
        )
    except (TimeoutError, urllib3.exceptions.TimeoutError) as error:
        return HttpResult(
            None, error=f"Timed out: {error}", timed_out=True, duration_ms=_ms(started)
        )
    except urllib3.exceptions.HTTPError as error:
        return HttpResult(None, error=f"Connection failed: {error}", duration_ms=_ms(started))
    try:
        snippet = response.read(MAX_RESPONSE_BYTES, decode_content=True)
    except (TimeoutError, urllib3.exceptions.TimeoutError) as error:
        response.close()
        return HttpResult(
            response.status,
            error=f"Timed out reading the response: {error}",
            timed_out=True,
            duration_ms=_ms(started),
        )
    except urllib3.exceptions.HTTPError as error:
        response.close()
        return HttpResult(
            response.status, error=f"Response failed: {error}", duration_ms=_ms(started)
        )
    if response.read(1):
        response.close()  # more than we keep: drop the connection instead of draining it
    else:
        response.release_conn()
    return HttpResult(
        response.status,
        headers={name.lower(): value for name, value in response.headers.items()},
        body_snippet=snippet[:2048].decode("utf-8", errors="replace"),
        duration_ms=_ms(started),
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
