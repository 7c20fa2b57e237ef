"""OpenAPI schema hooks (drf-spectacular): how apps authenticate, which paths are listed."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

DATED_ALIAS_PREFIX = "/conversations/custom-channels/"


def exclude_dated_aliases(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """Drops ``/conversations/custom-channels/<date>/…``: aliases of the v3 paths."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith(DATED_ALIAS_PREFIX)]


class AppTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents ``AppTokenAuthentication``: a bearer token (static or OAuth access token)."""

    target_class = "helpdesk.authentication.AppTokenAuthentication"
    name = "appToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}
