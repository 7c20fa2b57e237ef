"""Sniffing, display names, type rules and signed links of uploaded files."""

from __future__ import annotations

import io
import time
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import AppFactory
from tests.tickets.factories import mp4_bytes, ogg_bytes, png_bytes, wav_bytes
from tickets.files import (
    SNIFF_BYTES,
    content_type_sniff,
    content_type_sniff_file,
    file_id_from_signed,
    file_name_clean,
    file_signed_id,
    file_url,
    file_usage_type_infer,
    mime_type_allowed,
)
from tickets.services import file_create


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png_bytes(), "image/png"),
        (wav_bytes(), "audio/x-wav"),
        (ogg_bytes(), "audio/ogg"),
        (mp4_bytes(), "video/mp4"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (b"hello world", "text/plain"),
        ("日本語のテキスト".encode(), "text/plain"),
        (b"", "text/plain"),
        (b"text with a NUL \x00 byte", "application/octet-stream"),
        (b"\xc3\x28 invalid utf-8", "application/octet-stream"),
        (b"<html><script>alert(1)</script></html>", "text/plain"),
    ],
)
def test_content_type_is_sniffed_from_bytes(data, expected):
    assert content_type_sniff(data, complete=True) == expected


def test_a_prefix_cut_inside_a_character_is_still_text():
    text = b"a" + ("é" * SNIFF_BYTES).encode()  # then two bytes per character
    stream = io.BytesIO(text)
    cut = text[:SNIFF_BYTES]
    assert cut[-1:] == b"\xc3"  # the sniffed prefix ends halfway through a character
    assert content_type_sniff_file(stream, len(text)) == "text/plain"
    assert stream.tell() == 0
    # The same truncation at the end of a whole file is not valid UTF-8.
    assert content_type_sniff(cut, complete=True) == "application/octet-stream"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.png", "photo.png"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ada\\report.pdf", "report.pdf"),
        ("bad\r\nname\x00.txt", "badname.txt"),
        ("", "file"),
        (None, "file"),
        ("a" * 300 + ".jpeg", "a" * 250 + ".jpeg"),
    ],
)
def test_display_names_are_cleaned(name, expected):
    assert file_name_clean(name) == expected


@pytest.mark.parametrize(
    ("content_type", "usage"),
    [
        ("image/png", "IMAGE"),
        ("image/webp", "IMAGE"),
        ("audio/ogg", "AUDIO"),
        ("video/mp4", "OTHER"),
        ("application/pdf", "OTHER"),
    ],
)
def test_usage_type_follows_the_type(content_type, usage):
    assert file_usage_type_infer(content_type) == usage


@pytest.mark.parametrize(
    ("content_type", "allowed", "expected"),
    [
        ("image/png", ["image/png"], True),
        ("image/png", ["IMAGE/PNG"], True),
        ("image/gif", ["image/*"], True),
        ("audio/ogg", ["image/*", "application/pdf"], False),
        ("audio/ogg", ["*/*"], True),
        ("image/png", [], False),
    ],
)
def test_mime_type_patterns(content_type, allowed, expected):
    assert mime_type_allowed(content_type, allowed) is expected


@pytest.mark.django_db
class TestSignedLinks:
    def _file(self):
        upload = SimpleUploadedFile("a.txt", b"hello", content_type="image/png")
        return file_create(app=AppFactory(), upload=upload)

    def test_a_signed_id_round_trips(self):
        file = self._file()
        assert file.content_type == "text/plain"
        assert file_id_from_signed(file_signed_id(file)) == file.pk

    def test_a_link_expires(self, settings):
        settings.FILE_URL_MAX_AGE_SECONDS = 10
        signed = file_signed_id(self._file())
        with mock.patch("django.core.signing.time.time", return_value=time.time() + 11):
            assert file_id_from_signed(signed) is None

    def test_links_use_the_public_base_url(self, settings):
        settings.PUBLIC_BASE_URL = "https://help.example.org"
        assert file_url(self._file()).startswith("https://help.example.org/files/download/")

    @pytest.mark.parametrize("signed", ["", "12", "12:abc:def", "x" * 500])
    def test_garbage_is_not_a_file(self, signed):
        assert file_id_from_signed(signed) is None

    def test_a_signature_for_another_purpose_is_refused(self):
        from django.core import signing

        file = self._file()
        assert file_id_from_signed(signing.TimestampSigner().sign(str(file.pk))) is None
