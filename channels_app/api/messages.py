"""Placeholder: being written."""

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView



class MessagePublishApi(APIView):
    def post(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


class MessageGetApi(APIView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


class MessageStatusUpdateApi(APIView):
    def patch(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError
