"""``manage.py create_app``: creates an app and prints its secrets once (API.md)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from channels_app.models import App, AppToken
from helpdesk.authentication import ALL_SCOPES, token_digest


@pytest.mark.django_db
def test_json_prints_exactly_one_object_whose_token_works() -> None:
    out, err = StringIO(), StringIO()

    call_command("create_app", "Acme SMS", "--json", stdout=out, stderr=err)

    printed = out.getvalue()
    secrets = json.loads(printed)  # one JSON document, nothing else
    assert set(secrets) == {"appId", "clientSecret", "accessToken", "developerApiKey"}
    assert printed.strip().count("\n") == 0
    app = App.objects.get(pk=int(secrets["appId"]))
    assert app.name == "Acme SMS"
    assert app.client_secret == secrets["clientSecret"]
    assert app.developer_api_key_hash == token_digest(secrets["developerApiKey"])
    token = AppToken.objects.get(app=app)
    assert token.token_hash == token_digest(secrets["accessToken"])
    assert secrets["accessToken"] not in token.token_hash
    assert tuple(token.scopes) == ALL_SCOPES

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secrets['accessToken']}")
    created = client.post(
        "/conversations/v3/custom-channels",
        {"name": "From the CLI", "capabilities": {}},
        format="json",
    )
    assert created.status_code == 201
    keyed = APIClient().get(
        f"/conversations/v3/custom-channels?hapikey={secrets['developerApiKey']}"
        f"&appId={secrets['appId']}"
    )
    assert [row["name"] for row in keyed.json()["results"]] == ["From the CLI"]


@pytest.mark.django_db
def test_plain_output_names_each_secret() -> None:
    out = StringIO()
    call_command("create_app", "Plain", stdout=out)
    text = out.getvalue()
    for key in ("appId", "clientSecret", "accessToken", "developerApiKey"):
        assert f"{key}: " in text
    assert App.objects.filter(name="Plain").count() == 1


@pytest.mark.django_db
def test_a_blank_name_is_refused_and_creates_nothing() -> None:
    with pytest.raises(SystemExit):
        call_command("create_app", "   ", "--json", stdout=StringIO(), stderr=StringIO())
    assert App.objects.count() == 0
