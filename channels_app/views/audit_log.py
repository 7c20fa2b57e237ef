"""Settings → Help Desk → Audit log (SPEC O4): who changed which channel, account or token."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from channels_app.audit import audit_entry_list
from channels_app.forms import AuditLogFilterForm
from channels_app.views.access import AdminRequiredMixin

PAGE_SIZE = 50


class AuditLogView(AdminRequiredMixin, View):
    """``/settings/help-desk/audit-log/``: entries newest first, filtered by action, channel
    and actor, 50 a page."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = AuditLogFilterForm(request.GET or None)
        filters = form.cleaned_data if form.is_valid() else {}
        channel = filters.get("channel")
        actor = filters.get("actor")
        entries = audit_entry_list(
            action=filters.get("action") or "",
            channel_id=channel.pk if channel else None,
            actor_id=actor.pk if actor else None,
        )
        page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "channels_app/settings/audit_log.html",
            {"form": form, "page": page, "query": query.urlencode()},
        )
