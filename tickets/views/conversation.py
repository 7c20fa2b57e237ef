"""A ticket's conversation (SPEC I3-I7): the thread, the editor, the sidebar, and what the
editor posts.

- ``/inbox/tickets/<id>/``: the page (``?fragment=sidebar``: the right column alone);
- ``…/messages/?after=<message id>`` / ``?before=<message id>``: thread items as HTML, for
  live updates and "Show earlier messages"; ``…/messages/<mid>/``: one item (its delivery
  status changed);
- ``…/reply/`` (POST): a reply through the chosen medium, optionally setting a status;
- ``…/uploads/`` (POST): one attachment for the editor (``static/helpdesk/conversation.js``
  uploads with a progress bar), answering ``{id, name, size, type}``;
- ``…/owner/`` (POST): the "Ticket owner" menu;
- ``…/messages/<mid>/redeliver/`` (POST): a failed reply again.

Posts answer JSON when the page's script asks for it (``Accept: application/json``), and
otherwise redirect, or render the page again with the errors, so the page works without it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views import View

from helpdesk.api_errors import ApiError
from helpdesk.users import user_display_name
from routing.ownership import OwnerRefused, ticket_owner_set
from tickets.access import access_message_by_id, access_ticket_by_id
from tickets.forms import REPLY_PROPERTIES, ReplyForm, TicketOwnerForm, service_errors_apply
from tickets.models import Message, PipelineStatus, Thread, Ticket
from tickets.replies import ReplyRefused
from tickets.reply_channels import (
    ReplyOption,
    reply_by_medium,
    reply_file_upload,
    reply_options,
    reply_redeliver,
    reply_send_and_set_status,
)
from tickets.selectors import (
    contact_ids_in_channel,
    file_list_for_uploader,
    message_list_for_conversation,
    pipeline_status_list,
    ticket_list_for_contact,
    user_list_for_owner_menu,
)
from tickets.views.inbox import inbox_nav_context
from tickets.views.thread_items import message_item, message_items

PAGE_TEMPLATE = "tickets/inbox/conversation.html"
MESSAGES_TEMPLATE = "tickets/inbox/conversation_messages.html"
MESSAGE_TEMPLATE = "tickets/inbox/_message.html"
SIDEBAR_TEMPLATE = "tickets/inbox/conversation_sidebar.html"


def wants_json(request: HttpRequest) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def thread_of(ticket: Ticket) -> Thread | None:
    try:
        return ticket.thread
    except Thread.DoesNotExist:
        return None


def _contact_name(ticket: Ticket) -> str:
    return str(ticket.contact.name or ticket.contact.email or ticket.contact.phone or "")


def _editor_config(
    ticket: Ticket, options: list[ReplyOption], statuses: list[PipelineStatus]
) -> dict[str, Any]:
    """What the editor's script needs, as JSON: each medium's limits, each status's required
    properties, and the ticket's current values of those properties."""
    return {
        "limits": {option.medium: option.limits for option in options},
        "statuses": {
            str(status.pk): {
                "name": status.name,
                # Replying assigns an unassigned ticket to its author: the owner is never missing.
                "required": [
                    name for name in status.required_property_names if name in REPLY_PROPERTIES
                ],
            }
            for status in statuses
        },
        "ticket": {
            "name": ticket.name,
            "priority": ticket.priority,
            "category": ticket.category,
        },
    }


def _sidebar_context(ticket: Ticket) -> dict[str, Any]:
    owners = user_list_for_owner_menu()
    return {
        "ticket": ticket,
        "owner_form": TicketOwnerForm(owners=owners, initial={"owner": ticket.owner_id}),
        "previous_tickets": ticket_list_for_contact(
            contact=ticket.contact, exclude_ticket_id=ticket.pk
        ),
        "contact_channel_ids": contact_ids_in_channel(
            contact=ticket.contact,
            channel_id=ticket.channel_account.channel_id if ticket.channel_account else None,
        ),
    }


def _page(
    request: HttpRequest,
    ticket: Ticket,
    *,
    form: ReplyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The conversation page; ``form`` is the editor as posted (with its errors)."""
    thread = thread_of(ticket)
    messages, has_earlier = message_list_for_conversation(ticket_id=ticket.pk)
    statuses = pipeline_status_list(pipeline_id=ticket.pipeline_id)
    options = reply_options(ticket=ticket, thread=thread)
    if form is None:
        usable = next((option.medium for option in options if option.usable), "")
        form = ReplyForm(statuses=statuses, initial={"medium": usable})
    chosen_status = (
        form.status_chosen() if form.is_bound and hasattr(form, "cleaned_data") else None
    )
    shown_properties = (
        [name for name in REPLY_PROPERTIES if f"set_{name}" in form.errors] if form.is_bound else []
    )
    context = {
        **inbox_nav_context(user=request.user),
        **_sidebar_context(ticket),
        "thread": thread,
        "items": message_items(messages, contact_name=_contact_name(ticket)),
        "has_earlier": has_earlier,
        "reply_options": options,
        "chosen_medium": form["medium"].value() or "",
        "statuses": statuses,
        "form": form,
        "editor_config": _editor_config(ticket, options, statuses),
        "chosen_status": chosen_status,
        "shown_properties": shown_properties,
    }
    return render(request, PAGE_TEMPLATE, context, status=status)


class ConversationView(LoginRequiredMixin, View):
    """``/inbox/tickets/<id>/``: the thread, the editor and the sidebar."""

    def get(self, request: HttpRequest, ticket_id: int) -> HttpResponse:
        ticket = access_ticket_by_id(user=request.user, ticket_id=ticket_id)
        if request.GET.get("fragment") == "sidebar":
            return render(request, SIDEBAR_TEMPLATE, _sidebar_context(ticket))
        return _page(request, ticket)


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


class ConversationMessagesView(LoginRequiredMixin, View):
    """``…/messages/?after=<id>``: the messages stored after that one (live updates);
    ``?before=<id>``: the page of messages before it ("Show earlier messages")."""

    def get(self, request: HttpRequest, ticket_id: int) -> HttpResponse:
        ticket = access_ticket_by_id(user=request.user, ticket_id=ticket_id)
        messages, has_earlier = message_list_for_conversation(
            ticket_id=ticket.pk,
            after_id=_int_param(request, "after"),
            before_id=_int_param(request, "before"),
        )
        context = {
            "ticket": ticket,
            "items": message_items(messages, contact_name=_contact_name(ticket)),
            "has_earlier": has_earlier,
        }
        return render(request, MESSAGES_TEMPLATE, context)


class ConversationMessageView(LoginRequiredMixin, View):
    """``…/messages/<mid>/``: one thread item (its delivery status changed)."""

    def get(self, request: HttpRequest, ticket_id: int, message_id: int) -> HttpResponse:
        ticket = access_ticket_by_id(user=request.user, ticket_id=ticket_id)
        message = access_message_by_id(user=request.user, ticket=ticket, message_id=message_id)
        item = message_item(message, contact_name=_contact_name(ticket))
        return render(request, MESSAGE_TEMPLATE, {"ticket": ticket, "item": item})


def _form_errors_json(form: ReplyForm) -> dict[str, Any]:
    errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
    non_field = errors.pop("__all__", [])
    message = non_field[0] if non_field else "The reply was not sent: see the marked fields."
    return {"ok": False, "message": message, "errors": errors}


class ReplyView(LoginRequiredMixin, View):
    """``…/reply/``: sends the editor's reply (custom channel, email or a logged call), with a
    status when the rep chose "Send and set status"."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, ticket_id: int) -> HttpResponse:
        ticket = access_ticket_by_id(user=request.user, ticket_id=ticket_id)
        statuses = pipeline_status_list(pipeline_id=ticket.pipeline_id)
        form = ReplyForm(request.POST, statuses=statuses)
        message = self._send(request, ticket, form) if form.is_valid() else None
        if message is None:
            if wants_json(request):
                return JsonResponse(_form_errors_json(form), status=400)
            return _page(request, ticket, form=form, status=400)
        if wants_json(request):
            # Read again, as a thread item needs it: its attachments, their files, its author.
            ticket = access_ticket_by_id(user=request.user, ticket_id=ticket.pk)
            message = access_message_by_id(user=request.user, ticket=ticket, message_id=message.pk)
            item = message_item(message, contact_name=_contact_name(ticket))
            return JsonResponse(
                {
                    "ok": True,
                    "messageId": message.pk,
                    "status": ticket.status.name,
                    "html": render_to_string(
                        MESSAGE_TEMPLATE, {"ticket": ticket, "item": item}, request=request
                    ),
                    "sidebar": render_to_string(
                        SIDEBAR_TEMPLATE,
                        _sidebar_context(ticket),
                        request=request,
                    ),
                }
            )
        return HttpResponseRedirect(f"{ticket.get_absolute_url()}#message-{message.pk}")

    def _send(self, request: HttpRequest, ticket: Ticket, form: ReplyForm) -> Message | None:
        """Calls the service; a refusal lands in ``form`` and returns None."""
        data = form.cleaned_data
        files = file_list_for_uploader(user=request.user, ids=data["file_ids"])
        if len(files) != len(data["file_ids"]):
            form.add_error(None, "An attachment is no longer available; attach it again.")
            return None
        try:
            files += self._direct_uploads(request, ticket, data["medium"])
            reply = {
                "ticket": ticket,
                "author": request.user,
                "medium": data["medium"],
                "text": data.get("text") or "",
                "rich_text": data.get("rich_text") or "",
                "files": files,
                "in_reply_to_id": data.get("in_reply_to"),
                "call": form.call(),
            }
            status = form.status_chosen()
            if status is not None:
                return reply_send_and_set_status(
                    status=status, properties=form.properties(), **reply
                )
            return reply_by_medium(**reply)
        except ApiError as error:
            service_errors_apply(form, error, ReplyForm.SERVICE_FIELDS)
            return None

    @staticmethod
    def _direct_uploads(request: HttpRequest, ticket: Ticket, medium: str) -> list[Any]:
        """Files posted with the form itself (the page without its script)."""
        return [
            reply_file_upload(
                ticket=ticket,
                thread=thread_of(ticket),
                medium=medium,
                upload=upload,
                user=request.user,
            )
            for upload in request.FILES.getlist("files")
        ]


class ReplyFileUploadView(LoginRequiredMixin, View):
    """``…/uploads/?medium=<medium>``: stores one attachment of the editor (multipart field
    ``file``), refusing what that medium refuses. 201 ``{id, name, size, type}``; 400 or 413
    ``{message}``."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, ticket_id: int) -> HttpResponse:
        ticket = access_ticket_by_id(user=request.user, ticket_id=ticket_id)
        upload = request.FILES.get("file")
        if upload is None or not upload.size:
            return JsonResponse({"message": "Choose a file that is not empty."}, status=400)
        try:
            file = reply_file_upload(
                ticket=ticket,
                thread=thread_of(ticket),
                medium=request.GET.get("medium") or request.POST.get("medium") or "",
                upload=upload,
                user=request.user,
            )
        except ApiError as error:
            return JsonResponse({"message": error.message}, status=error.status_code)
        return JsonResponse(
            {"id": file.pk, "name": file.name, "size": file.size, "type": file.content_type},
            status=201,
        )


def _back(request: HttpRequest, ticket: Ticket) -> str:
    """Where a post from the sidebar or the ticket page returns (never off this site)."""
    target = request.POST.get("next", "")
    allowed = (ticket.get_absolute_url(), reverse("ticket-detail", args=[ticket.pk]))
    return target if target in allowed else ticket.get_absolute_url()


class TicketOwnerView(LoginRequiredMixin, View):
    """``…/owner/``: the "Ticket owner" menu (SPEC I4)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, ticket_id: int) -> HttpResponse:
        ticket = access_ticket_by_id(user=request.user, ticket_id=ticket_id)
        form = TicketOwnerForm(request.POST, owners=user_list_for_owner_menu())
        if not form.is_valid():
            flash.error(request, "Choose a rep from the list.")
            return HttpResponseRedirect(_back(request, ticket))
        owner = form.chosen_owner()
        try:
            ticket_owner_set(ticket=ticket, owner=owner, by=request.user)
        except OwnerRefused as refused:
            flash.error(request, str(refused))
        else:
            name = user_display_name(owner) if owner else ""
            flash.success(
                request,
                f"The ticket is assigned to {name}." if owner else "The ticket is unassigned.",
            )
        return HttpResponseRedirect(_back(request, ticket))


class MessageRedeliverView(LoginRequiredMixin, View):
    """``…/messages/<mid>/redeliver/``: a failed reply again (the same event for the app)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, ticket_id: int, message_id: int) -> HttpResponse:
        ticket = access_ticket_by_id(user=request.user, ticket_id=ticket_id)
        message = access_message_by_id(user=request.user, ticket=ticket, message_id=message_id)
        try:
            reply_redeliver(message=message)
            problem = None
        except ReplyRefused as refused:
            problem = refused.message
        if wants_json(request):
            if problem:
                return JsonResponse({"ok": False, "message": problem}, status=409)
            message = access_message_by_id(user=request.user, ticket=ticket, message_id=message.pk)
            item = message_item(message, contact_name=_contact_name(ticket))
            html = render_to_string(MESSAGE_TEMPLATE, {"ticket": ticket, "item": item}, request)
            return JsonResponse({"ok": True, "html": html})
        if problem:
            flash.error(request, problem)
        else:
            flash.success(request, "The reply is being sent again.")
        return HttpResponseRedirect(f"{ticket.get_absolute_url()}#message-{message.pk}")
