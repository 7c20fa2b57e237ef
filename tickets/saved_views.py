"""Custom inbox views (SPEC I1): saving a search's filters under a name, private or shared.

Who sees a view: its owner, and every rep when it is shared. Who changes or deletes it: its
owner only. ``access_saved_view_by_id`` is the one place that rule is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from tickets.inbox import saved_view_list_for_user
from tickets.inbox_filters import inbox_filters_clean
from tickets.models import SavedView

NAME_MAX_LENGTH = SavedView._meta.get_field("name").max_length or 80
DUPLICATE_NAME = "You already have a view with this name."


def access_saved_view_by_id(
    *, user: Any, saved_view_id: int, for_change: bool = False
) -> SavedView:
    """The view with that id if ``user`` may see it (``for_change``: may change it).

    Raises ``SavedView.DoesNotExist`` for unknown ids and other reps' private views (as if
    unknown), ``PermissionDenied`` for changing someone else's shared view.
    """
    saved_view = saved_view_list_for_user(user=user).get(pk=saved_view_id)
    if for_change and saved_view.owner_id != user.pk:
        raise PermissionDenied("Only the owner of a view changes it.")
    return saved_view


def _clean(
    *, owner: Any, name: str, filters: Mapping[str, Any], exclude_pk: int | None = None
) -> tuple[str, dict[str, Any]]:
    """The stripped name and the validated filters, or every error at once by field."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Give the view a name."]
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = [f"Keep the name under {NAME_MAX_LENGTH + 1} characters."]
    else:
        same_name = SavedView.objects.filter(owner_id=owner.pk, name=name)
        if exclude_pk is not None:
            same_name = same_name.exclude(pk=exclude_pk)
        if same_name.exists():
            errors["name"] = [DUPLICATE_NAME]
    cleaned: dict[str, Any] = {}
    try:
        cleaned = inbox_filters_clean(filters).to_data()
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return name, cleaned


def _duplicate_name() -> ValidationError:
    return ValidationError({"name": [DUPLICATE_NAME]})


@transaction.atomic
def saved_view_create(
    *, owner: Any, name: str, shared: bool, filters: Mapping[str, Any]
) -> SavedView:
    """Saves a search as a custom view of ``owner``. ``filters`` are the search's (``q``,
    ``channel``…, as ``tickets.inbox_filters.InboxFilters.to_data``); they are validated and
    stored without empty values. Raises ``ValidationError`` by field; stores nothing then."""
    name, cleaned = _clean(owner=owner, name=name, filters=filters)
    try:
        with transaction.atomic():
            return SavedView.objects.create(
                owner=owner, name=name, shared=bool(shared), filters=cleaned
            )
    except IntegrityError:  # the same name saved concurrently
        raise _duplicate_name() from None


@transaction.atomic
def saved_view_update(
    *, saved_view: SavedView, actor: Any, name: str, shared: bool, filters: Mapping[str, Any]
) -> SavedView:
    """Renames, shares or unshares a view and replaces its filters. Only its owner may;
    raises ``PermissionDenied`` otherwise, ``ValidationError`` for bad input."""
    if saved_view.owner_id != actor.pk:
        raise PermissionDenied("Only the owner of a view changes it.")
    name, cleaned = _clean(owner=actor, name=name, filters=filters, exclude_pk=saved_view.pk)
    saved_view.name = name
    saved_view.shared = bool(shared)
    saved_view.filters = cleaned
    try:
        with transaction.atomic():
            saved_view.save(update_fields=["name", "shared", "filters", "updated_at"])
    except IntegrityError:
        raise _duplicate_name() from None
    return saved_view


@transaction.atomic
def saved_view_delete(*, saved_view: SavedView, actor: Any) -> None:
    """Deletes a view. Only its owner may (``PermissionDenied`` otherwise)."""
    if saved_view.owner_id != actor.pk:
        raise PermissionDenied("Only the owner of a view deletes it.")
    saved_view.delete()
