"""How the help desk names its users to people (reps, admins, the audit log, notifications)."""

from __future__ import annotations

from typing import Any


def user_display_name(user: Any) -> str:
    """A user as people read it: the full name, else the username."""
    return str(user.get_full_name() or user.get_username())
