"""Uploaded files: what their bytes are (sniffing), the signed, expiring links that serve them,
and the checks a message's attachments pass (ownership, the channel's limits).

The type of a file always comes from its bytes: a client's filename or ``Content-Type`` is
neither trusted nor stored, so a file can't be served as something it is not.
"""

from __future__ import annotations

import codecs
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import filetype
from django.conf import settings
from django.core import signing
from django.urls import reverse

from channels_app.models import App, CustomChannel
from helpdesk.api_errors import ApiError, error_item
from tickets.models import Attachment, File, Message, MessageDirection
from tickets.selectors import file_map_for_app

# filetype needs the first 261 bytes; the text check looks at a little more.
SNIFF_BYTES = 8192
FALLBACK_TEXT_TYPE = "text/plain"
FALLBACK_BINARY_TYPE = "application/octet-stream"
FILE_URL_SALT = "tickets.files.download"
NAME_MAX_LENGTH = 255


def content_type_sniff(head: bytes, *, complete: bool) -> str:
    """The MIME type of a file from its first bytes (``complete``: ``head`` is the whole file).

    Known binary formats by their magic numbers; otherwise valid UTF-8 without NUL bytes is
    ``text/plain``, anything else ``application/octet-stream``.
    """
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if b"\x00" in head:
        return FALLBACK_BINARY_TYPE
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # A prefix may end inside a multi-byte character: only a complete file must end cleanly.
        decoder.decode(head, final=complete)
    except UnicodeDecodeError:
        return FALLBACK_BINARY_TYPE
    return FALLBACK_TEXT_TYPE


def content_type_sniff_file(stream: IO[bytes], size: int) -> str:
    """Sniffs an open file, leaving its position at the start."""
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    return content_type_sniff(head, complete=size <= SNIFF_BYTES)


def file_name_clean(name: str | None) -> str:
    """A display name safe in headers and pages: no path, no control characters, bounded."""
    base = os.path.basename((name or "").replace("\\", "/"))
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if len(cleaned) > NAME_MAX_LENGTH:
        stem, ext = os.path.splitext(cleaned)
        cleaned = stem[: NAME_MAX_LENGTH - len(ext[:20])] + ext[:20]
    return cleaned or "file"


def file_usage_type_infer(content_type: str) -> str:
    """HubSpot's ``fileUsageType`` for a file the app did not label. Video stays OTHER (the
    inbox plays it by its ``video/*`` type): HubSpot's enumeration has no VIDEO."""
    if content_type.startswith("image/"):
        return str(Attachment.FileUsageType.IMAGE)
    if content_type.startswith("audio/"):
        return str(Attachment.FileUsageType.AUDIO)
    return str(Attachment.FileUsageType.OTHER)


def mime_type_allowed(content_type: str, allowed: list[str]) -> bool:
    """Whether ``content_type`` matches one of ``allowed`` (exact, ``image/*`` or ``*/*``)."""
    for pattern in allowed:
        pattern = str(pattern).strip().lower()
        if pattern in ("*", "*/*") or pattern == content_type:
            return True
        if pattern.endswith("/*") and content_type.startswith(pattern[:-1]):
            return True
    return False


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=FILE_URL_SALT)


def file_signed_id(file: File) -> str:
    return _signer().sign(str(file.pk))


def file_url(file: File) -> str:
    """An absolute link to the file, valid for ``FILE_URL_MAX_AGE_SECONDS`` from now."""
    path = reverse("file-download", kwargs={"signed_id": file_signed_id(file)})
    return f"{settings.PUBLIC_BASE_URL}{path}"


def file_id_from_signed(signed_id: str) -> int | None:
    """The file id of a valid, unexpired signed id; None for anything else."""
    try:
        value = _signer().unsign(signed_id, max_age=settings.FILE_URL_MAX_AGE_SECONDS)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    return int(value) if value.isdigit() else None


@dataclass
class PlannedAttachment:
    """An attachment checked and ready to store (``file`` for FILE, ``data`` otherwise)."""

    type: str
    file: File | None = None
    file_usage_type: str = ""
    data: dict[str, Any] = field(default_factory=dict)


# --- Attachments of a message --------------------------------------------------------------


def file_attachments_planned(files: Iterable[File]) -> list[PlannedAttachment]:
    """Stored files as FILE attachments, their usage (image, voice…) inferred from their type."""
    return [
        PlannedAttachment(
            type=Attachment.Type.FILE,
            file=file,
            file_usage_type=file_usage_type_infer(file.content_type),
        )
        for file in files
    ]


def attachments_store(message: Message, planned: Sequence[PlannedAttachment]) -> list[Attachment]:
    """Writes a message's checked attachments, in order, in one INSERT."""
    return Attachment.objects.bulk_create(
        Attachment(
            message=message,
            position=position,
            type=item.type,
            file=item.file,
            file_usage_type=item.file_usage_type,
            data=item.data,
        )
        for position, item in enumerate(planned)
    )


def attachments_plan(
    *,
    app: App,
    channel: CustomChannel,
    direction: str,
    items: list[dict[str, Any]] | None,
) -> list[PlannedAttachment]:
    """The attachments to store, checked against ownership and limits (no writes).

    Files must be the app's own uploads (another app's file is unknown). OUTGOING messages obey
    the channel's capabilities, as a rep's reply would; INCOMING ones only the server's limit.
    All problems are reported at once, each at its input path.
    """
    items = items or []
    files = file_map_for_app(
        app=app, ids=(item["fileId"] for item in items if item["type"] == Attachment.Type.FILE)
    )
    errors: list[dict[str, str]] = []
    planned: list[PlannedAttachment] = []
    for index, item in enumerate(items):
        if item["type"] != Attachment.Type.FILE:
            planned.append(PlannedAttachment(type=item["type"], data=item.get("data") or {}))
            continue
        file = files.get(item["fileId"])
        if file is None:
            errors.append(
                error_item(f"attachments[{index}].fileId", "no such file", "OBJECT_NOT_FOUND")
            )
            continue
        if file.size > settings.FILE_UPLOAD_MAX_BYTES:
            errors.append(
                error_item(
                    f"attachments[{index}].fileId", "is larger than the server accepts", "TOO_LARGE"
                )
            )
        usage = item.get("fileUsageType") or file_usage_type_infer(file.content_type)
        planned.append(PlannedAttachment(type=item["type"], file=file, file_usage_type=usage))
    if direction == MessageDirection.OUTGOING:
        errors.extend(outgoing_attachment_problems(channel.capabilities, planned))
    if errors:
        raise ApiError(f"Invalid input at {errors[0]['in']}: {errors[0]['message']}", errors=errors)
    return planned


def outgoing_attachment_problems(
    capabilities: dict[str, Any], planned: list[PlannedAttachment]
) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    file_items = [(i, item) for i, item in enumerate(planned) if item.file is not None]
    if not file_items:
        return errors
    if "FILE" not in (capabilities.get("outgoingAttachmentTypes") or []):
        for index, _ in file_items:
            errors.append(
                error_item(
                    f"attachments[{index}].type",
                    "this channel does not accept files on outgoing messages",
                    "NOT_ALLOWED",
                )
            )
        return errors
    allowed_types = capabilities.get("allowedFileAttachmentMimeTypes") or []
    max_size = capabilities.get("maxFileAttachmentSizeBytes")
    for index, item in file_items:
        assert item.file is not None  # noqa: S101 (narrowing: file_items only holds files)
        if allowed_types and not mime_type_allowed(item.file.content_type, allowed_types):
            errors.append(
                error_item(
                    f"attachments[{index}].fileId",
                    f"files of type {item.file.content_type} are not accepted by this channel",
                    "NOT_ALLOWED",
                )
            )
        if isinstance(max_size, int) and item.file.size > max_size:
            errors.append(
                error_item(
                    f"attachments[{index}].fileId",
                    f"is larger than this channel's limit of {max_size} bytes",
                    "TOO_LARGE",
                )
            )
    max_count = capabilities.get("maxFileAttachmentCount")
    if isinstance(max_count, int) and len(file_items) > max_count:
        errors.append(
            error_item("attachments", f"this channel accepts at most {max_count} files", "TOO_MANY")
        )
    max_total = capabilities.get("maxTotalFileAttachmentSizeBytes")
    total = sum(item.file.size for _, item in file_items if item.file is not None)
    if isinstance(max_total, int) and total > max_total:
        errors.append(
            error_item(
                "attachments",
                f"files total {total} bytes, above this channel's limit of {max_total}",
                "TOO_LARGE",
            )
        )
    return errors
