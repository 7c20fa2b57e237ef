"""The API's shared behaviour: the error shape everywhere, JSON 404s, redacted logs."""

import logging

import pytest

from helpdesk.logging import RedactSecretsFilter, redact


def _assert_error_shape(body: dict, category: str) -> None:
    assert body["status"] == "error"
    assert body["category"] == category
    assert body["message"]
    assert len(body["correlationId"]) == 36


@pytest.mark.django_db
def test_unknown_api_path_is_a_json_404(anonymous_client) -> None:
    response = anonymous_client.get("/conversations/v3/no-such-thing")
    assert response.status_code == 404
    _assert_error_shape(response.json(), "OBJECT_NOT_FOUND")


@pytest.mark.django_db
def test_missing_token_is_401_in_the_error_shape(anonymous_client) -> None:
    response = anonymous_client.get("/conversations/v3/custom-channels")
    assert response.status_code == 401
    _assert_error_shape(response.json(), "UNAUTHORIZED")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_malformed_authorization_header_is_401(anonymous_client) -> None:
    response = anonymous_client.get(
        "/conversations/v3/custom-channels", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz"
    )
    assert response.status_code == 401
    _assert_error_shape(response.json(), "UNAUTHORIZED")


@pytest.mark.django_db
def test_unsupported_method_is_405_in_the_error_shape(app_client) -> None:
    response = app_client.client.put("/conversations/v3/custom-channels", {}, format="json")
    assert response.status_code == 405
    _assert_error_shape(response.json(), "VALIDATION_ERROR")


def test_query_strings_and_bearer_tokens_are_redacted_from_logs() -> None:
    line = 'GET /conversations/v3/custom-channels?hapikey=dev-hd-SECRET&appId=1 "Bearer pat-hd-XYZ"'
    cleaned = redact(line)
    assert "dev-hd-SECRET" not in cleaned
    assert "pat-hd-XYZ" not in cleaned
    assert cleaned.startswith("GET /conversations/v3/custom-channels?[redacted]")


def test_log_filter_rewrites_records_with_arguments() -> None:
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s',
        ("GET /x?hapikey=abc HTTP/1.1", 200),
        None,
    )
    RedactSecretsFilter().filter(record)
    assert "abc" not in record.getMessage()
    assert "200" in record.getMessage()
