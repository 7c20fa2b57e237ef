"""The one error shape of API.md, for every 4xx/5xx the API answers.

``{"status": "error", "message", "correlationId", "category", "errors": [{message, in, code}]}``.
DRF's validation errors are flattened into ``errors`` with a JSON path in ``in``
(``senders[0].deliveryIdentifier.value``).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

CATEGORY_BY_STATUS = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "OBJECT_NOT_FOUND",
    405: "VALIDATION_ERROR",
    406: "VALIDATION_ERROR",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "VALIDATION_ERROR",
    422: "UNPROCESSABLE",
    429: "RATE_LIMITS",
}

# DRF's error codes, renamed to HubSpot's vocabulary where one exists.
CODE_NAMES = {
    "invalid": "INVALID_FORMAT",
    "required": "REQUIRED",
    "null": "REQUIRED",
    "blank": "REQUIRED",
    "invalid_choice": "INVALID_ENUM",
    "not_a_list": "INVALID_FORMAT",
    "not_a_dict": "INVALID_FORMAT",
    "max_length": "TOO_LONG",
    "min_length": "TOO_SHORT",
    "max_value": "TOO_LARGE",
    "min_value": "TOO_SMALL",
    "empty": "REQUIRED",
    "unknown_field": "UNKNOWN_FIELD",
    "does_not_exist": "OBJECT_NOT_FOUND",
}


class ApiError(exceptions.APIException):
    """An API failure with an explicit status, a sentence, and optional field errors."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 400,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message)
        self.status_code = status_code
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}


class Conflict(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=409)


class Unprocessable(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=422)


class PayloadTooLarge(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=413)


def error_item(path: str, message: str, code: str) -> dict[str, str]:
    """One item of an error's ``errors``: what is wrong, at which input path."""
    return {"message": message, "in": path, "code": code}


def field_error(path: str, message: str, code: str = "INVALID_FORMAT") -> ApiError:
    """A 400 for one field, with its JSON path (``raise field_error("text", "is required")``)."""
    return ApiError(f"Invalid input at {path}: {message}", errors=[error_item(path, message, code)])


class NotFound(ApiError):
    """404 for a missing object and for another app's object alike (never reveal existence)."""

    def __init__(self, message: str = "No such object.") -> None:
        super().__init__(message, status_code=404)


def flatten_validation_errors(detail: Any, path: str = "") -> list[dict[str, str]]:
    """Turns DRF's nested error detail into ``[{message, in, code}]`` with JSON paths."""
    flat: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                child = path
            elif path:
                child = f"{path}.{key}"
            else:
                child = str(key)
            flat.extend(flatten_validation_errors(value, child))
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail | str) for item in detail):
            for item in detail:
                flat.extend(flatten_validation_errors(item, path))
        else:
            for index, item in enumerate(detail):
                if item:
                    flat.extend(flatten_validation_errors(item, f"{path}[{index}]"))
    else:
        code = getattr(detail, "code", "invalid") or "invalid"
        flat.append(
            {
                "message": str(detail),
                "in": path or "body",
                "code": CODE_NAMES.get(code, str(code).upper()),
            }
        )
    return flat


def error_body(
    status_code: int, message: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": CATEGORY_BY_STATUS.get(
            status_code, "INTERNAL_ERROR" if status_code >= 500 else "VALIDATION_ERROR"
        ),
    }
    if errors:
        body["errors"] = errors
    return body


def _summary(errors: list[dict[str, str]]) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"Invalid input at {first['in']}: {first['message']}{more}"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler: every error leaves in the HubSpot shape."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge("The request body is larger than the server accepts.")

    if isinstance(exc, ApiError):
        api_response = Response(
            error_body(exc.status_code, exc.message, exc.errors), exc.status_code
        )
        for name, value in exc.headers.items():
            api_response[name] = value
        return api_response

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_validation_errors(exc.detail)
        response.data = error_body(response.status_code, _summary(errors), errors)
    elif isinstance(exc, exceptions.NotFound):
        response.data = error_body(404, "No such object.")
    elif isinstance(exc, exceptions.APIException):
        response.data = error_body(response.status_code, str(exc.detail))
    return response


def _is_api_path(path: str) -> bool:
    return path.startswith(("/conversations/", "/files/", "/oauth/v1/", "/api/"))


def json_error_response(request: HttpRequest, status_code: int, message: str) -> JsonResponse:
    return JsonResponse(error_body(status_code, message), status=status_code)


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _is_api_path(request.path):
        return json_error_response(request, status.HTTP_404_NOT_FOUND, "No such object.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


def handler500(request: HttpRequest) -> Any:
    if _is_api_path(request.path):
        logger.error("Unhandled API error on %s %s", request.method, request.path)
        return json_error_response(request, 500, "Internal error; it has been logged.")
    from django.views.defaults import server_error

    return server_error(request)


def handler400(request: HttpRequest, exception: Exception | None = None) -> Any:
    if isinstance(exception, RequestDataTooBig) and _is_api_path(request.path):
        return json_error_response(
            request, 413, "The request body is larger than the server accepts."
        )
    if _is_api_path(request.path):
        return json_error_response(request, 400, "Bad request.")
    from django.views.defaults import bad_request

    return bad_request(request, exception or Exception())
