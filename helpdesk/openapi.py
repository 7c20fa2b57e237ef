"""OpenAPI schema hooks (drf-spectacular)."""

from typing import Any

DATED_ALIAS_PREFIX = "/conversations/custom-channels/"


def exclude_dated_aliases(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """Drops ``/conversations/custom-channels/<date>/…``: aliases of the v3 paths."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith(DATED_ALIAS_PREFIX)]
