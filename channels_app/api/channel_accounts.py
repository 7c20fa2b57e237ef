"""Placeholder: being written."""

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView



class ChannelAccountListApi(APIView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


class ChannelAccountCreateApi(APIView):
    def post(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


class ChannelAccountGetApi(APIView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


class ChannelAccountUpdateApi(APIView):
    def patch(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


class ChannelAccountCredentialsApi(APIView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError


class StagingTokenCompleteApi(APIView):
    def patch(self, request: Request, **kwargs: Any) -> Response:
        raise NotImplementedError
