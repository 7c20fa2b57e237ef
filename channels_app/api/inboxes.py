"""Placeholder: being written."""

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView



class InboxListApi(APIView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError
