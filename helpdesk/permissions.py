"""Scope checks for app tokens: reads need ``.read``, writes ``.write`` (403 without)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

READ_SCOPE = "conversations.custom_channels.read"
WRITE_SCOPE = "conversations.custom_channels.write"


class HasAppScope(permissions.BasePermission):
    """The request comes from an app whose token carries the scope the view needs.

    A view may set ``required_scopes = {"GET": "...", "POST": "..."}``; by default safe methods
    need the read scope and the others the write scope.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.auth is None:
            raise exceptions.NotAuthenticated(
                "Authentication required: send 'Authorization: Bearer <token>'."
            )
        required = getattr(view, "required_scopes", {}).get(request.method)
        if required is None:
            required = READ_SCOPE if request.method in permissions.SAFE_METHODS else WRITE_SCOPE
        if required not in set(getattr(request.auth, "scopes", ())):
            raise exceptions.PermissionDenied(f"This token lacks the scope '{required}'.")
        return True
