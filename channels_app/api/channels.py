"""Placeholder: being written."""

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView



class ChannelListApi(APIView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


class ChannelCreateApi(APIView):
    def post(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


class ChannelGetApi(APIView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


class ChannelUpdateApi(APIView):
    def patch(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


class ChannelArchiveApi(APIView):
    def delete(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


class SigningSecretRotateApi(APIView):
    def post(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError
