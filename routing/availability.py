"""Writes of reps' availability, capacity and presence (SPEC R5), which routing reads.

- ``availability_set``: Available or Away; becoming Available drains the backlog.
- ``capacity_set``: the most open tickets a rep takes; more room drains the backlog.
- ``presence_touch``, ``presence_connect``, ``presence_disconnect``: "online" from requests
  (throttled) and from open inbox websockets.

Each locks the rep's profile (``rep_profile_locked``), in the lock order of
``routing.services``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from routing.models import RepProfile
from routing.services import backlog_drain_schedule, rep_profiles_ensure

# ``presence_touch`` writes at most once per this many seconds per rep.
PRESENCE_TOUCH_SECONDS = 30


def rep_is_admin(user: Any) -> bool:
    """The admin rule everywhere (settings pages, users and teams, others' availability and
    capacity, app installs): an active user who is staff, a superuser, or has the ADMIN role."""
    if not getattr(user, "is_authenticated", False):
        return False
    role = None
    if user.is_active and not (user.is_staff or user.is_superuser):
        role = RepProfile.objects.filter(user_id=user.pk).values_list("role", flat=True).first()
    return RepProfile.grants_admin(user, role)


def rep_profile_locked(user_id: int) -> RepProfile:
    """The rep's profile (created if missing), locked for this transaction."""
    rep_profiles_ensure([user_id])
    return RepProfile.objects.select_for_update().get(user_id=user_id)


@transaction.atomic
def availability_set(*, user: Any, availability: str, set_by: Any) -> RepProfile:
    """Sets a rep Available or Away: a rep for themselves, an admin for anyone, else
    ``PermissionDenied``. Locks the rep's profile. Becoming Available drains the backlog after
    commit (``backlog_drain_schedule``). Raises ``ValueError`` for an unknown availability.
    """
    if availability not in RepProfile.Availability.values:
        raise ValueError(f"Unknown availability: {availability!r}")
    if getattr(set_by, "pk", None) != user.pk and not rep_is_admin(set_by):
        raise PermissionDenied("Only an admin can set another rep's availability.")
    profile = rep_profile_locked(user.pk)
    if profile.availability == availability:
        return profile
    profile.availability = availability
    profile.save(update_fields=["availability"])
    if availability == RepProfile.Availability.AVAILABLE:
        backlog_drain_schedule(user_id=user.pk)
    return profile


@transaction.atomic
def capacity_set(*, user: Any, capacity: int | None, set_by: Any) -> RepProfile:
    """Sets a rep's capacity (maximum open tickets; None: no limit). Admins only, else
    ``PermissionDenied``. Locks the profile; more room drains the backlog after commit."""
    if capacity is not None and capacity < 0:
        raise ValueError("A capacity is zero or more.")
    if not rep_is_admin(set_by):
        raise PermissionDenied("Only an admin can set a rep's capacity.")
    profile = rep_profile_locked(user.pk)
    previous = profile.capacity
    if previous == capacity:
        return profile
    profile.capacity = capacity
    profile.save(update_fields=["capacity"])
    if capacity is None or (previous is not None and capacity > previous):
        backlog_drain_schedule(user_id=user.pk)
    return profile


def presence_touch(*, user: Any, now: datetime | None = None) -> bool:
    """Records that a rep is active (R5 "online"); returns whether it wrote.

    Throttled to one write per rep per ``PRESENCE_TOUCH_SECONDS``: a cache key first (no query
    at all on most requests), then a conditional update that compares before writing.
    """
    if not getattr(user, "is_authenticated", False):
        return False
    if not cache.add(f"routing:presence:{user.pk}", 1, timeout=PRESENCE_TOUCH_SECONDS):
        return False
    now = now or timezone.now()
    stale = Q(last_seen_at__isnull=True) | Q(
        last_seen_at__lt=now - timedelta(seconds=PRESENCE_TOUCH_SECONDS)
    )
    if RepProfile.objects.filter(stale, user_id=user.pk).update(last_seen_at=now):
        return True
    if RepProfile.objects.filter(user_id=user.pk).exists():
        return False
    rep_profiles_ensure([user.pk])
    return RepProfile.objects.filter(stale, user_id=user.pk).update(last_seen_at=now) > 0


@transaction.atomic
def presence_connect(*, user: Any) -> None:
    """A live inbox connection of the rep opened (the inbox's websocket consumer calls it)."""
    rep_profiles_ensure([user.pk])
    RepProfile.objects.filter(user_id=user.pk).update(
        live_connections=F("live_connections") + 1, last_seen_at=timezone.now()
    )


@transaction.atomic
def presence_disconnect(*, user: Any) -> None:
    """A live inbox connection closed. The rep stays online for the 2 minutes after it."""
    RepProfile.objects.filter(user_id=user.pk, live_connections__gt=0).update(
        live_connections=F("live_connections") - 1, last_seen_at=timezone.now()
    )
