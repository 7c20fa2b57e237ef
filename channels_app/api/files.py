"""Placeholder: being written."""

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView



class FileUploadApi(APIView):
    def post(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


def file_download(request: Any, signed_id: str) -> Any:
    raise NotImplementedError
