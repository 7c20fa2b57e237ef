"""``POST /files/v3/files`` and the signed download link, through the real stack."""

from __future__ import annotations

import time
from unittest import mock

import pytest

from tests.tickets.factories import (
    FILES_URL,
    mp4_bytes,
    ogg_bytes,
    png_bytes,
    upload,
    wav_bytes,
)
from tickets.models import File

pytestmark = pytest.mark.django_db


def _path(url: str) -> str:
    """The path of an absolute link (the test client talks to the app directly)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_upload_returns_the_file_with_a_sniffed_type_and_a_signed_url(app_client, settings):
    settings.PUBLIC_BASE_URL = "https://desk.example.com"
    data = png_bytes()
    response = upload(app_client.client, data, name="invoice.pdf", content_type="application/pdf")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "size", "type", "url"}
    assert isinstance(body["id"], str)
    assert body["name"] == "invoice.pdf"
    assert body["size"] == len(data)
    # The bytes say PNG; the client's name and Content-Type are ignored.
    assert body["type"] == "image/png"
    assert body["url"].startswith("https://desk.example.com/files/download/")
    stored = File.objects.get(pk=body["id"])
    assert stored.app == app_client.app
    assert stored.content_type == "image/png"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (wav_bytes(), "audio/x-wav"),
        (ogg_bytes(), "audio/ogg"),
        (mp4_bytes(), "video/mp4"),
        ("Grüße, plain text\n".encode(), "text/plain"),
        (b"\x00\x01\x02binary\xff\xfe", "application/octet-stream"),
        (b"\xff\xfe\xfd not utf-8", "application/octet-stream"),
    ],
)
def test_type_is_sniffed_from_the_bytes(app_client, data, expected):
    response = upload(app_client.client, data, name="photo.png", content_type="image/png")
    assert response.status_code == 201
    assert response.json()["type"] == expected


def test_a_path_in_the_file_name_is_dropped(app_client):
    response = upload(app_client.client, b"hello", name="../../etc/passwd")
    assert response.status_code == 201
    assert response.json()["name"] == "passwd"


def test_missing_file_is_400_at_file(app_client):
    response = app_client.client.post(FILES_URL, {"other": "x"}, format="multipart")
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["in"] == "file"
    assert File.objects.count() == 0


def test_empty_file_is_400(app_client):
    response = upload(app_client.client, b"")
    assert response.status_code == 400
    assert response.json()["errors"][0]["in"] == "file"


def test_json_body_is_refused(app_client):
    response = app_client.client.post(FILES_URL, {"file": "x"}, format="json")
    assert response.status_code == 415
    assert response.json()["status"] == "error"


def test_file_above_the_server_limit_is_413_and_stores_nothing(app_client, settings):
    settings.FILE_UPLOAD_MAX_BYTES = 1000
    response = upload(app_client.client, b"a" * 1001)
    assert response.status_code == 413
    assert response.json()["category"] == "PAYLOAD_TOO_LARGE"
    assert File.objects.count() == 0


def test_announced_content_length_above_the_limit_is_413_before_reading(app_client, settings):
    settings.FILE_UPLOAD_MAX_BYTES = 1000
    response = app_client.client.post(
        FILES_URL,
        data=b"--x--",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH="999999999",
    )
    assert response.status_code == 413


def test_a_file_of_exactly_the_limit_is_accepted(app_client, settings):
    settings.FILE_UPLOAD_MAX_BYTES = 1000
    response = upload(app_client.client, b"a" * 1000)
    assert response.status_code == 201
    assert response.json()["size"] == 1000


def test_upload_needs_a_token(anonymous_client):
    response = upload(anonymous_client, b"hello")
    assert response.status_code == 401
    assert File.objects.count() == 0


def test_upload_needs_the_write_scope(db):
    from tests.conftest import make_app_client

    reader = make_app_client(scopes=("conversations.custom_channels.read",))
    response = upload(reader.client, b"hello")
    assert response.status_code == 403


def test_signed_url_downloads_the_bytes_with_safe_headers(app_client, anonymous_client):
    data = png_bytes(2, 2)
    url = upload(app_client.client, data, name="cat.png").json()["url"]

    response = anonymous_client.get(_path(url))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert 'filename="cat.png"' in response["Content-Disposition"]


def test_a_non_media_file_downloads_as_an_attachment(app_client, anonymous_client):
    url = upload(app_client.client, b"plain words", name="notes.txt").json()["url"]
    response = anonymous_client.get(_path(url))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Disposition"].startswith("attachment")


def test_signed_url_expires(app_client, anonymous_client, settings):
    settings.FILE_URL_MAX_AGE_SECONDS = 60
    url = upload(app_client.client, b"hello").json()["url"]
    later = time.time() + 61
    with mock.patch("django.core.signing.time.time", return_value=later):
        response = anonymous_client.get(_path(url))
    assert response.status_code == 404
    assert response.json()["category"] == "OBJECT_NOT_FOUND"


def test_a_tampered_signature_is_404(app_client, anonymous_client):
    url = upload(app_client.client, b"hello").json()["url"]
    other = upload(app_client.client, b"world").json()["id"]
    path = _path(url)
    signed = path.rsplit("/", 1)[1]
    forged = f"{other}:{signed.split(':', 1)[1]}"
    assert anonymous_client.get(f"/files/download/{forged}").status_code == 404
    assert anonymous_client.get("/files/download/garbage").status_code == 404


def test_download_of_a_deleted_file_is_404(app_client, anonymous_client):
    body = upload(app_client.client, b"hello").json()
    File.objects.filter(pk=body["id"]).delete()
    assert anonymous_client.get(_path(body["url"])).status_code == 404


def test_download_refuses_post(app_client, anonymous_client):
    url = upload(app_client.client, b"hello").json()["url"]
    assert anonymous_client.post(_path(url)).status_code == 405
