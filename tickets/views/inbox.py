"""Workspace → Help Desk (SPEC I1, I2): the views with their counts, a view's conversations,
search, and saving a search as a custom view.

``/inbox/?view=<key>&after=<cursor>``: keys ``unassigned``, ``mine``, ``open`` (the default),
``closed`` and ``saved-<id>``; ``&fragment=list`` / ``&fragment=nav`` answer the rows or the
left column alone (``static/helpdesk/inbox.js`` re-fetches them on live events).
``/inbox/search/?q=…&channel=…&account=…&status=…&owner=…&priority=…&from=…&to=…``.
Other inbox pages show the left column with ``inbox_nav_context``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from tickets.inbox import (
    DEFAULT_VIEW_KEY,
    InboxView,
    TicketPage,
    inbox_view_counts,
    inbox_view_find,
    inbox_views_for_user,
    saved_view_key,
    ticket_list_for_view,
    ticket_search,
)
from tickets.inbox_filters import InboxFilterForm, InboxFilters, inbox_filter_data
from tickets.models import SavedView
from tickets.saved_views import (
    NAME_MAX_LENGTH,
    access_saved_view_by_id,
    saved_view_create,
    saved_view_delete,
    saved_view_update,
)

NAV_TEMPLATE = "tickets/inbox/_views_nav.html"
ROWS_TEMPLATE = "tickets/inbox/list_rows.html"


def inbox_nav_context(
    *, user: Any, current_view_key: str = "", views: list[InboxView] | None = None
) -> dict[str, Any]:
    """What ``_views_nav.html`` needs: the views with counts (two queries, one with
    ``views``) and the key of the one to mark as current (none: "")."""
    counted = inbox_view_counts(user=user, views=views)
    return {
        "inbox_views": counted,
        "default_views": [view for view in counted if not view.is_custom],
        "custom_views": [view for view in counted if view.is_custom],
        "current_view_key": current_view_key,
    }


# The left column's "current" entry on the search page (its icon); view keys never take it.
SEARCH_KEY = "search"


def _view_url(key: str, **params: str) -> str:
    return f"{reverse('inbox')}?{urlencode({'view': key, **params})}"


class SavedViewForm(forms.Form):
    """The name and sharing of a custom view; its filters come with the search. It only
    renders (with the browser's own checks): ``tickets.saved_views`` validates."""

    name = forms.CharField(
        label="View name",
        required=False,
        widget=forms.TextInput(attrs={"maxlength": NAME_MAX_LENGTH, "required": True}),
    )
    shared = forms.BooleanField(label="Share with every rep", required=False)


class InboxListView(LoginRequiredMixin, View):
    """``/inbox/``: the left column of views and the chosen view's conversations."""

    def get(self, request: HttpRequest) -> HttpResponse:
        fragment = request.GET.get("fragment")
        views = inbox_views_for_user(user=request.user)
        if fragment == "nav":
            # The left column of whichever page asks (a view, search, a conversation), with
            # that page's current entry as it says.
            nav = inbox_nav_context(
                user=request.user, current_view_key=request.GET.get("current", ""), views=views
            )
            return render(request, NAV_TEMPLATE, nav)
        view = inbox_view_find(views, request.GET.get("view") or DEFAULT_VIEW_KEY)
        if view is None:
            raise Http404("No such view.")
        after = request.GET.get("after") or None
        if fragment == "list":
            page = ticket_list_for_view(user=request.user, view=view, after=after)
            return render(request, ROWS_TEMPLATE, self._rows_context(view, page, after))
        nav = inbox_nav_context(user=request.user, current_view_key=view.key, views=views)
        page = ticket_list_for_view(user=request.user, view=view, after=after)
        current = inbox_view_find(nav["inbox_views"], view.key)
        context = {
            **nav,
            **self._rows_context(view, page, after),
            "view": current,
            "can_change": bool(
                view.saved_view is not None and view.saved_view.owner_id == request.user.pk
            ),
            "edit_url": (
                f"{reverse('inbox-search')}?"
                + urlencode({**view.filters.to_data(), "saved": view.saved_view.pk})
                if view.saved_view is not None
                else ""
            ),
        }
        return render(request, "tickets/inbox/list.html", context)

    @staticmethod
    def _rows_context(view: InboxView, page: TicketPage, after: str | None) -> dict[str, Any]:
        return {
            "page": page,
            "next_url": _view_url(view.key, after=page.next_cursor) if page.next_cursor else "",
            "first_url": _view_url(view.key) if after else "",
            # Live updates refresh the first page only: a rep reading older conversations
            # keeps their place.
            "refresh_url": "" if after else _view_url(view.key, fragment="list"),
            "empty_text": "No conversations in this view.",
        }


def _search_page(
    request: HttpRequest,
    *,
    filter_data: QueryDict | dict[str, Any] | None,
    save_form: SavedViewForm | None = None,
    saved_view: SavedView | None = None,
    status: int = 200,
) -> HttpResponse:
    """The search page: the filters, the results when there is something to search, and the
    form saving the search as a view (or updating ``saved_view``, the view being edited)."""
    form = InboxFilterForm(filter_data or None)
    filters: InboxFilters | None = None
    page: TicketPage | None = None
    after = request.GET.get("after") or None
    if form.is_bound and form.is_valid():
        filters = form.filters()
        if not filters.is_empty:
            page = ticket_search(user=request.user, filters=filters, after=after)
    if save_form is None:
        initial = {"name": saved_view.name, "shared": saved_view.shared} if saved_view else {}
        save_form = SavedViewForm(initial=initial)
    base = reverse("inbox-search")
    query = filters.to_data() if filters else {}
    if saved_view is not None:
        query["saved"] = saved_view.pk
    context = {
        **inbox_nav_context(user=request.user, current_view_key=SEARCH_KEY),
        "form": form,
        "filters": filters,
        "page": page,
        "next_url": (
            f"{base}?{urlencode({**query, 'after': page.next_cursor})}"
            if page and page.next_cursor
            else ""
        ),
        "first_url": f"{base}?{urlencode(query)}" if after else "",
        "refresh_url": "",
        "empty_text": "No conversations match.",
        "save_form": save_form,
        # The search's filters, carried by the save form as hidden fields.
        "filter_items": sorted(filters.to_data().items()) if filters else [],
        "saved_view": saved_view,
        "save_action": (
            reverse("inbox-view-update", args=[saved_view.pk])
            if saved_view is not None
            else reverse("inbox-view-save")
        ),
    }
    return render(request, "tickets/inbox/search.html", context, status=status)


def _editable_saved_view(request: HttpRequest, pk: Any) -> SavedView | None:
    """The custom view named by ``pk`` if the user owns it (None otherwise: their own copy)."""
    if not str(pk or "").isdigit():
        return None
    try:
        return access_saved_view_by_id(user=request.user, saved_view_id=int(pk), for_change=True)
    except (SavedView.DoesNotExist, PermissionDenied):
        return None


class InboxSearchView(LoginRequiredMixin, View):
    """``/inbox/search/``: full text and filters over the conversations (SPEC I2);
    ``&saved=<id>`` edits that custom view's filters (its owner only)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        saved_view = _editable_saved_view(request, request.GET.get("saved"))
        data = inbox_filter_data(request.GET)
        return _search_page(request, filter_data=data or None, saved_view=saved_view)


def _save_failed(
    request: HttpRequest, error: ValidationError, saved_view: SavedView | None
) -> HttpResponse:
    """The search page again, with the service's errors next to their fields (the service is
    the one that validates: the form only renders)."""
    save_form = SavedViewForm(request.POST)
    for field, field_errors in error.message_dict.items():
        if field in save_form.fields:
            save_form.add_error(field, field_errors)
    return _search_page(
        request,
        filter_data=inbox_filter_data(request.POST),
        save_form=save_form,
        saved_view=saved_view,
        status=400,
    )


class SavedViewSaveView(LoginRequiredMixin, View):
    """``POST /inbox/views/``: the search's filters saved as a new custom view;
    ``POST /inbox/views/<id>/``: new name, sharing and filters for the owner's view."""

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        saved_view = _owned(request, pk) if pk is not None else None
        name = request.POST.get("name", "")
        shared = bool(request.POST.get("shared"))
        filters = inbox_filter_data(request.POST)
        try:
            if saved_view is None:
                saved = saved_view_create(
                    owner=request.user, name=name, shared=shared, filters=filters
                )
            else:
                saved = saved_view_update(
                    saved_view=saved_view,
                    actor=request.user,
                    name=name,
                    shared=shared,
                    filters=filters,
                )
        except ValidationError as error:
            return _save_failed(request, error, saved_view)
        done = "Saved" if saved_view is None else "Updated"
        messages.success(request, f"{done} the view “{saved.name}”.")
        return HttpResponseRedirect(_view_url(saved_view_key(saved)))


class SavedViewDeleteView(LoginRequiredMixin, View):
    """``POST /inbox/views/<id>/delete/``: the owner deletes a custom view."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        saved_view = _owned(request, pk)
        name = saved_view.name
        saved_view_delete(saved_view=saved_view, actor=request.user)
        messages.success(request, f"Deleted the view “{name}”.")
        return HttpResponseRedirect(reverse("inbox"))


def _owned(request: HttpRequest, pk: int) -> SavedView:
    """404 for views the user cannot see, 403 for another rep's shared view."""
    try:
        return access_saved_view_by_id(user=request.user, saved_view_id=pk, for_change=True)
    except SavedView.DoesNotExist:
        raise Http404("No such view.") from None
