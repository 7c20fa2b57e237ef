"""Forms of the conversation and ticket pages: what a rep posts, parsed; the services check
the rules (a form never decides whether a reply may be sent or a status entered).

``service_errors_apply`` puts a service's refusal next to the fields it names.
"""

from __future__ import annotations

from typing import Any

from django import forms

from helpdesk.api_errors import ApiError
from helpdesk.users import user_display_name
from tickets.models import Message, Pipeline, PipelineStatus, TicketCategory, TicketPriority
from tickets.reply_channels import CALL_MAX_DURATION_SECONDS, CallDetails, CallOutcome

TEXT_MAX_LENGTH = 65_536
FILES_MAX = 50


# What "send and set status" may ask for before the status: the requirable properties but the
# owner, which a reply never leaves missing (it assigns an unassigned ticket to its author).
REPLY_PROPERTIES = tuple(name for name in PipelineStatus.REQUIRABLE_PROPERTIES if name != "owner")


def owner_choices(owners: list[Any], *, empty_label: str) -> list[tuple[Any, str]]:
    return [("", empty_label), *((user.pk, user_display_name(user)) for user in owners)]


def service_errors_apply(
    form: forms.Form, error: ApiError, fields: dict[str, str] | None = None
) -> None:
    """Adds each ``{message, in}`` of a service's refusal to the field ``in`` names (``fields``
    maps service names to form fields); the rest, and a refusal without field errors, to the
    form as a whole, as the sentence the service wrote."""
    fields = fields or {}
    placed = False
    for item in error.errors:
        name = fields.get(str(item.get("in", "")), str(item.get("in", "")))
        if name in form.fields:
            form.add_error(name, str(item.get("message", "is invalid")))
            placed = True
    if not placed:
        form.add_error(None, error.message)


class ReplyForm(forms.Form):
    """The editor: a reply through the chosen medium, optionally with a status to set and the
    properties that status requires (``set_*``), or a logged call (``call_*``).

    ``statuses`` are the ticket's pipeline's; ``owners`` who may own it. Files are the ids of
    the rep's uploads (``file_ids``, repeated); the view fetches them.
    """

    medium = forms.ChoiceField(choices=Message.Medium.choices, label="Reply with")
    text = forms.CharField(
        required=False,
        max_length=TEXT_MAX_LENGTH,
        strip=False,
        label="Message",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    rich_text = forms.CharField(
        required=False, max_length=TEXT_MAX_LENGTH * 2, widget=forms.HiddenInput
    )
    in_reply_to = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    status = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    set_name = forms.CharField(required=False, max_length=300, label="Ticket name")
    set_priority = forms.ChoiceField(
        required=False, choices=[("", "Choose…"), *TicketPriority.choices], label="Priority"
    )
    set_category = forms.ChoiceField(
        required=False, choices=[("", "Choose…"), *TicketCategory.choices], label="Category"
    )
    call_duration = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=CALL_MAX_DURATION_SECONDS // 60,
        label="Duration (minutes)",
    )
    call_outcome = forms.ChoiceField(
        required=False, choices=[("", "Choose…"), *CallOutcome.choices], label="Outcome"
    )

    # Service field names → form fields.
    SERVICE_FIELDS = {
        "name": "set_name",
        "priority": "set_priority",
        "category": "set_category",
        "status": "status",
        "call_duration": "call_duration",
        "call_outcome": "call_outcome",
    }

    def __init__(
        self,
        *args: Any,
        statuses: list[PipelineStatus],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.statuses = {status.pk: status for status in statuses}
        status_field = self.fields["status"]
        assert isinstance(status_field, forms.ChoiceField)  # noqa: S101 (narrowing)
        status_field.choices = [("", "Keep the status"), *((s.pk, s.name) for s in statuses)]
        # The status dialog sits outside the editor's <form>; its fields still belong to it.
        for name in REPLY_PROPERTIES:
            self.fields[f"set_{name}"].widget.attrs["form"] = "reply-form"

    @property
    def property_fields(self) -> list[tuple[str, forms.BoundField]]:
        """The fields of the properties a status may require, by property name."""
        return [(name, self[f"set_{name}"]) for name in REPLY_PROPERTIES]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        raw_ids = self.data.getlist("file_ids") if hasattr(self.data, "getlist") else []
        ids: list[int] = []
        for raw in raw_ids[: FILES_MAX + 1]:
            if not str(raw).isdigit():
                self.add_error(None, "An attachment is not an uploaded file; attach it again.")
                break
            ids.append(int(raw))
        if len(ids) > FILES_MAX:
            self.add_error(None, f"Attach at most {FILES_MAX} files.")
        cleaned["file_ids"] = list(dict.fromkeys(ids))
        if cleaned.get("medium") == Message.Medium.CALL:
            if cleaned.get("call_duration") is None and "call_duration" not in self.errors:
                self.add_error("call_duration", "How long was the call?")
            if not cleaned.get("call_outcome") and "call_outcome" not in self.errors:
                self.add_error("call_outcome", "How did the call go?")
        return cleaned

    def status_chosen(self) -> PipelineStatus | None:
        status_id = self.cleaned_data.get("status")
        return self.statuses.get(status_id) if status_id is not None else None

    def properties(self) -> dict[str, Any]:
        """The properties to set before the status, as ``ticket_update`` takes them."""
        properties: dict[str, Any] = {}
        for name in REPLY_PROPERTIES:
            value = self.cleaned_data.get(f"set_{name}")
            if value:
                properties[name] = value
        return properties

    def call(self) -> CallDetails | None:
        if self.cleaned_data.get("medium") != Message.Medium.CALL:
            return None
        return CallDetails(
            duration_seconds=int(self.cleaned_data.get("call_duration") or 0) * 60,
            outcome=str(self.cleaned_data.get("call_outcome") or ""),
        )


class TicketOwnerForm(forms.Form):
    """The "Ticket owner" menu: a user, or nobody."""

    owner = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Ticket owner"
    )

    def __init__(self, *args: Any, owners: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owners = {user.pk: user for user in owners}
        field = self.fields["owner"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101 (narrowing)
        field.choices = owner_choices(owners, empty_label="Unassigned")

    def chosen_owner(self) -> Any | None:
        owner_id = self.cleaned_data.get("owner")
        return self.owners.get(owner_id) if owner_id is not None else None


class TicketUpdateForm(forms.Form):
    """The ticket page: every property a rep edits. Statuses are grouped by pipeline."""

    name = forms.CharField(max_length=300, label="Ticket name")
    pipeline = forms.TypedChoiceField(coerce=int, label="Pipeline")
    status = forms.TypedChoiceField(coerce=int, label="Status")
    priority = forms.ChoiceField(
        required=False, choices=[("", "None"), *TicketPriority.choices], label="Priority"
    )
    category = forms.ChoiceField(
        required=False, choices=[("", "None"), *TicketCategory.choices], label="Category"
    )
    owner = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Ticket owner"
    )

    def __init__(
        self, *args: Any, pipelines: list[Pipeline], owners: list[Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pipelines = {pipeline.pk: pipeline for pipeline in pipelines}
        self.statuses = {
            status.pk: status for pipeline in pipelines for status in pipeline.statuses.all()
        }
        self.owners = {user.pk: user for user in owners}
        pipeline_field = self.fields["pipeline"]
        status_field = self.fields["status"]
        owner_field = self.fields["owner"]
        assert isinstance(pipeline_field, forms.ChoiceField)  # noqa: S101 (narrowing)
        assert isinstance(status_field, forms.ChoiceField)  # noqa: S101 (narrowing)
        assert isinstance(owner_field, forms.ChoiceField)  # noqa: S101 (narrowing)
        pipeline_field.choices = [(pipeline.pk, pipeline.name) for pipeline in pipelines]
        status_field.choices = [
            (pipeline.name, [(status.pk, status.name) for status in pipeline.statuses.all()])
            for pipeline in pipelines
        ]
        owner_field.choices = owner_choices(owners, empty_label="Unassigned")

    def changes(self) -> dict[str, Any]:
        """The values as ``ticket_update`` takes them."""
        data = self.cleaned_data
        owner_id = data.get("owner")
        return {
            "name": data["name"],
            "pipeline": self.pipelines[data["pipeline"]],
            "status": self.statuses[data["status"]],
            "priority": data.get("priority") or "",
            "category": data.get("category") or "",
            "owner": self.owners.get(owner_id) if owner_id is not None else None,
        }
