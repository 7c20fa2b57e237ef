"""One APIView class per operation, several operations on one REST path.

``method_view(get=ChannelListApi, post=ChannelCreateApi)`` builds the view that DRF and the
OpenAPI generator see for the path; each operation class implements only its own method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.views import APIView


def method_view(**operations: type[APIView]) -> Callable[..., Any]:
    """Returns ``as_view()`` of a class whose HTTP methods come from the given operation classes."""
    bases = tuple(operations.values())
    for method, operation in operations.items():
        if not hasattr(operation, method):
            raise TypeError(f"{operation.__name__} does not implement {method.upper()}")
    name = "".join(operation.__name__ for operation in bases)
    attrs: dict[str, Any] = {method: getattr(op, method) for method, op in operations.items()}
    # The combined view accepts exactly the methods it was given (others: 405 in the error shape).
    attrs["http_method_names"] = [*operations.keys(), "options"]
    attrs["allow_developer_key"] = any(getattr(op, "allow_developer_key", False) for op in bases)
    combined: type[APIView] = type(name, bases, attrs)
    return combined.as_view()
