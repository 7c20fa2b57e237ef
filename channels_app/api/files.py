"""Files for attachments: ``POST /files/v3/files`` (upload) and the signed download link.

Uploads belong to the uploading app; their type is sniffed from the bytes. Downloads need no
token: the signed, expiring id in the URL is the permission (so an inbox page or a webhook
receiver can fetch the file), and the response is served so no browser second-guesses it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.views.decorators.http import require_safe
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.access import request_app
from helpdesk.api_errors import PayloadTooLarge, field_error, json_error_response
from helpdesk.api_fields import IdField
from tickets.files import file_id_from_signed, file_url
from tickets.selectors import file_get
from tickets.services import file_create

# A multipart body carries boundaries and part headers around the file: allow for them when
# judging Content-Length, so a file of exactly the limit is still accepted.
MULTIPART_OVERHEAD_BYTES = 16 * 1024
INLINE_TYPE_PREFIXES = ("image/", "audio/", "video/")


class FileUploadInputSerializer(serializers.Serializer):
    file = serializers.FileField()


class FileOutputSerializer(serializers.Serializer):
    id = IdField(source="pk")
    name = serializers.CharField()
    size = serializers.IntegerField()
    type = serializers.CharField(
        source="content_type", help_text="MIME type sniffed from the bytes."
    )
    url = serializers.SerializerMethodField(help_text="Signed; expires.")

    def get_url(self, file: Any) -> str:
        return file_url(file)


class FileUploadApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="file_upload",
        summary="Upload a file for an attachment",
        request={"multipart/form-data": FileUploadInputSerializer},
        responses={
            201: FileOutputSerializer,
            400: OpenApiResponse(description="VALIDATION_ERROR: no file (errors[].in = file)"),
            401: OpenApiResponse(description="UNAUTHORIZED"),
            413: OpenApiResponse(description="PAYLOAD_TOO_LARGE"),
        },
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        # Refuse an oversized body before reading it, when the client announced its size.
        announced = request.META.get("CONTENT_LENGTH")
        limit = settings.FILE_UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD_BYTES
        if announced and str(announced).isdigit() and int(announced) > limit:
            raise PayloadTooLarge(_too_large_message())
        upload = request.FILES.get("file")
        if upload is None:
            raise field_error(
                "file", "is required: send the file as multipart field 'file'", "REQUIRED"
            )
        if not upload.size:
            raise field_error("file", "must not be empty", "REQUIRED")
        file = file_create(app=request_app(request), upload=upload)
        return Response(FileOutputSerializer(file).data, status=201)


def _too_large_message() -> str:
    return f"The file is larger than the server's limit of {settings.FILE_UPLOAD_MAX_BYTES} bytes."


@require_safe
def file_download(request: HttpRequest, signed_id: str) -> HttpResponseBase:
    """Serves a file by its signed id; a bad or expired signature is a 404 like a missing file."""
    file_id = file_id_from_signed(signed_id)
    file = file_get(file_id=file_id) if file_id is not None else None
    if file is None:
        return json_error_response(request, 404, "No such file, or the link has expired.")
    try:
        stream = file.file.open("rb")
    except OSError:
        return json_error_response(request, 404, "No such file, or the link has expired.")
    inline = file.content_type.startswith(INLINE_TYPE_PREFIXES)
    response = FileResponse(
        stream, content_type=file.content_type, as_attachment=not inline, filename=file.name
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Even an inline file must never run anything in our origin.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=300"
    return response
