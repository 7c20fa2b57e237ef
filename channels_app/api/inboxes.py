"""Inboxes: ``GET /conversations/v3/conversations/inboxes`` (API.md "Inboxes").

Apps read the inbox ids to connect accounts to; HubSpot grants this to ``conversations.read``,
and a custom-channel app usually holds only ``conversations.custom_channels.read``, so either
scope is enough.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.selectors import inbox_list
from helpdesk.api_fields import IdField
from helpdesk.permissions import READ_SCOPE, HasAppScope

CONVERSATIONS_READ_SCOPE = "conversations.read"


class HasAnyAppScope(HasAppScope):
    """Like ``HasAppScope``, for views whose ``any_of_scopes[method]`` lists scopes of which one
    suffices (``HasAppScope`` takes exactly one per method). Methods not listed get
    ``HasAppScope``'s rule, so a method the view lacks still ends in 405, not 403."""

    def has_permission(self, request: Request, view: Any) -> bool:
        any_of_scopes = getattr(view, "any_of_scopes", {})
        if request.method not in any_of_scopes:
            return super().has_permission(request, view)
        if request.auth is None:
            raise exceptions.NotAuthenticated(
                "Authentication required: send 'Authorization: Bearer <token>'."
            )
        accepted = tuple(any_of_scopes[request.method])
        granted = set(getattr(request.auth, "scopes", ()))
        if not granted.intersection(accepted):
            raise exceptions.PermissionDenied(
                f"This token lacks one of the scopes {', '.join(repr(s) for s in accepted)}."
            )
        return True


class InboxOutputSerializer(serializers.Serializer):
    id = IdField(source="pk")
    name = serializers.CharField()
    type = serializers.CharField()


class InboxListOutputSerializer(serializers.Serializer):
    results = InboxOutputSerializer(many=True)


class InboxListApi(APIView):
    """Every inbox (a fresh install has one, of type HELP_DESK); not paged, inboxes are few."""

    permission_classes = [HasAnyAppScope]
    any_of_scopes = {"GET": (CONVERSATIONS_READ_SCOPE, READ_SCOPE)}

    @extend_schema(
        operation_id="listInboxes", tags=["Inboxes"], responses={200: InboxListOutputSerializer}
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response({"results": InboxOutputSerializer(inbox_list(), many=True).data})
