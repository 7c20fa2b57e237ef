"""The OpenAPI schema is served, documents every operation, and the API honours it: a bounded
schemathesis run finds no 5xx and no response that breaks the schema."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import make_app_client
from tests.tickets.factories import channel_with_account, message_body, messages_url

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


def test_schema_lists_every_operation_of_the_contract(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    document = response.json()
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "delete"}
    }
    base = "/conversations/v3/custom-channels"
    assert operations >= {
        ("POST", base),
        ("GET", base),
        ("GET", f"{base}/{{channel_id}}"),
        ("PATCH", f"{base}/{{channel_id}}"),
        ("DELETE", f"{base}/{{channel_id}}"),
        ("POST", f"{base}/{{channel_id}}/rotate-signing-secret"),
        ("POST", f"{base}/{{channel_id}}/channel-accounts"),
        ("GET", f"{base}/{{channel_id}}/channel-accounts"),
        ("GET", f"{base}/{{channel_id}}/channel-accounts/{{account_id}}"),
        ("PATCH", f"{base}/{{channel_id}}/channel-accounts/{{account_id}}"),
        ("GET", f"{base}/{{channel_id}}/channel-accounts/{{account_id}}/credentials"),
        ("PATCH", f"{base}/{{channel_id}}/channel-account-staging-tokens/{{account_token}}"),
        ("POST", f"{base}/{{channel_id}}/messages"),
        ("GET", f"{base}/{{channel_id}}/messages/{{message_id}}"),
        ("PATCH", f"{base}/{{channel_id}}/messages/{{message_id}}"),
        ("GET", "/conversations/v3/conversations/inboxes"),
        ("POST", "/files/v3/files"),
    }
    assert document["components"]["securitySchemes"]["appToken"]["scheme"] == "bearer"


def test_docs_page_loads_nothing_from_other_hosts(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html)
    assert external == [], f"the docs page would load {external}"
    for asset in re.findall(r"""src=["'](/static/[^"']+)""", html):
        assert client.get(asset).status_code == 200


@contextmanager
def connection_kept_across_requests() -> Iterator[None]:
    """Calling the WSGI app directly (not through Django's test client, which does the same)
    would close the test's database connection around each request, as between real ones."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_objects(db):
    """An app with a channel, an account and a message, so generated ids can hit real rows."""
    app_client = make_app_client()
    channel, account = channel_with_account(app_client.app)
    message = app_client.client.post(messages_url(channel), message_body(account), format="json")
    return {
        "token": app_client.token,
        "channel_id": str(channel.pk),
        "account_id": str(account.pk),
        "message_id": message.json()["id"],
    }


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_honours_its_schema(case, api_objects):
    for name in ("channel_id", "account_id", "message_id"):
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = api_objects[name]
    with connection_kept_across_requests():
        case.call_and_validate(
            headers={"Authorization": f"Bearer {api_objects['token']}"},
            checks=[not_a_server_error, response_schema_conformance],
        )
