"""Forms of the channel settings pages: the connect wizard's steps and the audit log filters.

Forms parse what the admin typed; the checks themselves are the services' (the same as the
API's): ``credentials_clean`` for credentials, ``channel_account_connect`` /
``routing_rule_update`` for routing. ``apply_api_errors`` puts a service's ``InvalidInputError``
paths beside the matching fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth import get_user_model

from channels_app.accounts import CHANNEL_ACCOUNT_NAME_MAX_LENGTH, RoutingOptions
from channels_app.capabilities import InvalidInputError, credentials_clean
from channels_app.models import AuditEntry, CustomChannel
from channels_app.services import APP_NAME_MAX_LENGTH, TOKEN_NAME_MAX_LENGTH
from helpdesk.authentication import ALL_SCOPES
from helpdesk.users import user_display_name
from routing.models import RoutingRule, Team
from tickets.models import Pipeline, PipelineStatus, TicketCategory, TicketPriority, TicketState

CREDENTIAL_PREFIX = "credential__"


def apply_api_errors(
    form: forms.Form, error: InvalidInputError, paths: dict[str, str] | None = None
) -> None:
    """Adds each ``{message, in}`` of ``error`` to the field its path names (``paths`` maps API
    paths to field names), or to the form when no field matches."""
    paths = paths or {}
    errors = error.errors or [{"message": error.message, "in": ""}]
    for item in errors:
        path = str(item.get("in", ""))
        field = paths.get(path)
        if field is None and path.startswith("credentials."):
            field = CREDENTIAL_PREFIX + path.removeprefix("credentials.")
        if field in form.fields:
            form.add_error(field, str(item.get("message", "is invalid")))
        else:
            form.add_error(None, f"{path}: {item.get('message')}" if path else item["message"])


class CredentialsForm(forms.Form):
    """The account name and one input per connection field of the channel (SPEC C2).

    Secrets are password inputs and are never rendered back. ``clean`` runs the service's
    ``credentials_clean``; ``credentials`` then holds the cleaned values.
    """

    account_name = forms.CharField(
        label="Account name",
        max_length=CHANNEL_ACCOUNT_NAME_MAX_LENGTH,
        help_text="How this account appears in the help desk, e.g. the phone number's team.",
    )

    def __init__(self, *args: Any, channel: CustomChannel, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel
        self.credentials: dict[str, str] = {}
        for spec in channel.connection_fields:
            self.fields[CREDENTIAL_PREFIX + spec["name"]] = self._field_for(spec)

    @staticmethod
    def _field_for(spec: dict[str, Any]) -> forms.Field:
        # Required-ness is checked by ``credentials_clean`` (the service's rule and message);
        # the browser only gets the hint.
        attrs = {"required": True} if spec.get("required") else {}
        common: dict[str, Any] = {
            "label": spec.get("label") or spec["name"],
            "required": False,
            "help_text": spec.get("helpText") or "",
        }
        field_type = spec.get("type")
        if field_type == "select":
            options = [(option, option) for option in spec.get("options") or []]
            return forms.ChoiceField(
                choices=[("", "—"), *options], widget=forms.Select(attrs=attrs), **common
            )
        if field_type == "secret":
            return forms.CharField(
                widget=forms.PasswordInput(render_value=False, attrs=attrs), strip=False, **common
            )
        widget: forms.Widget = {
            "url": forms.URLInput(attrs=attrs),
            "email": forms.EmailInput(attrs=attrs),
            "phone": forms.TextInput(attrs={"type": "tel", **attrs}),
        }.get(str(field_type), forms.TextInput(attrs=attrs))
        # The service checks the form of urls, emails and phones; the field only collects text.
        return forms.CharField(widget=widget, **common)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        raw = {
            spec["name"]: cleaned.get(CREDENTIAL_PREFIX + spec["name"]) or ""
            for spec in self.channel.connection_fields
        }
        try:
            self.credentials = credentials_clean(
                connection_fields=self.channel.connection_fields, credentials=raw
            )
        except InvalidInputError as error:
            apply_api_errors(self, error)
        return cleaned


if TYPE_CHECKING:
    _ModelChoiceField = forms.ModelChoiceField[PipelineStatus]
else:  # the class is generic in the stubs only
    _ModelChoiceField = forms.ModelChoiceField


class _StatusChoiceField(_ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.pipeline.name} — {obj.name}"


class _UserChoiceField(forms.ModelMultipleChoiceField):
    """Admins pick reps by the name the inbox shows, not by their sign-in name."""

    def label_from_instance(self, obj: Any) -> str:
        return user_display_name(obj)


# The routing step's fields by the paths the services report errors at.
ROUTING_ERROR_PATHS = {
    "routing.pipelineId": "pipeline",
    "routing.startingStatusId": "starting_status",
    "routing.priority": "priority",
    "routing.category": "category",
    "routing.nameTemplate": "name_template",
    "routing.mode": "mode",
    "routing.userIds": "users",
    "routing.teamIds": "teams",
    "name": "",
}


class RoutingForm(forms.Form):
    """The routing step (SPEC C3): ticket properties and automatic assignment."""

    pipeline = forms.ModelChoiceField(
        queryset=Pipeline.objects.order_by("display_order", "id"),
        required=False,
        empty_label="Default pipeline",
    )
    starting_status = _StatusChoiceField(
        queryset=PipelineStatus.objects.filter(state=TicketState.OPEN)
        .select_related("pipeline")
        .order_by("pipeline__display_order", "pipeline_id", "display_order", "id"),
        required=False,
        empty_label="The pipeline's first open status",
        label="Starting status",
    )
    priority = forms.ChoiceField(
        choices=[("", "No priority"), *TicketPriority.choices], required=False
    )
    category = forms.ChoiceField(
        choices=[("", "No category"), *TicketCategory.choices], required=False
    )
    name_template = forms.CharField(
        label="Ticket name",
        max_length=300,
        initial=RoutingRule.DEFAULT_NAME_TEMPLATE,
        help_text="{contact} and {channel} are replaced by the contact's and channel's names.",
    )
    auto_assign = forms.BooleanField(label="Automatically assign tickets", required=False)
    mode = forms.ChoiceField(
        label="Assign to",
        choices=RoutingRule.Mode.choices,
        widget=forms.RadioSelect,
        initial=RoutingRule.Mode.NONE,
    )
    users = _UserChoiceField(
        queryset=get_user_model()
        .objects.filter(is_active=True)
        .order_by("first_name", "last_name", "username"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    @classmethod
    def initial_for(cls, options: RoutingOptions) -> dict[str, Any]:
        return {
            "pipeline": options.pipeline_id,
            "starting_status": options.starting_status_id,
            "priority": options.priority,
            "category": options.category,
            "name_template": options.name_template,
            "auto_assign": options.auto_assign,
            "mode": options.mode,
            "users": list(options.user_ids),
            "teams": list(options.team_ids),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        mode = cleaned.get("mode")
        # The switch off means no assignment, whatever option was left selected.
        if not cleaned.get("auto_assign") or mode == RoutingRule.Mode.NONE:
            cleaned["auto_assign"] = False
            cleaned["mode"] = RoutingRule.Mode.NONE
        elif (
            mode == RoutingRule.Mode.SPECIFIC_USERS_AND_TEAMS
            and not cleaned.get("users")
            and not cleaned.get("teams")
        ):
            self.add_error("users", "Choose at least one user or team.")
        return cleaned

    def routing_options(self) -> RoutingOptions:
        data = self.cleaned_data
        pipeline = data.get("pipeline")
        status = data.get("starting_status")
        return RoutingOptions(
            pipeline_id=pipeline.pk if pipeline else (status.pipeline_id if status else None),
            starting_status_id=status.pk if status else None,
            priority=data.get("priority") or "",
            category=data.get("category") or "",
            name_template=data["name_template"],
            auto_assign=bool(data["auto_assign"]),
            mode=data["mode"],
            user_ids=tuple(user.pk for user in data.get("users") or ()),
            team_ids=tuple(team.pk for team in data.get("teams") or ()),
        )


class AuditLogFilterForm(forms.Form):
    """The audit log's filters; all optional."""

    action = forms.ChoiceField(
        choices=[("", "Any action"), *AuditEntry.Action.choices], required=False
    )
    channel = forms.ModelChoiceField(
        queryset=CustomChannel.objects.order_by("name", "id"),
        required=False,
        empty_label="Any channel",
    )
    actor = forms.ModelChoiceField(
        queryset=get_user_model().objects.order_by("username"),
        required=False,
        empty_label="Anyone",
    )


# --- The apps pages (SPEC C5) ----------------------------------------------------------------

# ``app_create``'s error paths → the create form's fields.
APP_ERROR_PATHS = {"name": "name", "logoUrl": "logo_url", "redirectUris": "redirect_uris"}
TOKEN_ERROR_PATHS = {"name": "name", "scopes": "scopes"}

SCOPE_LABELS = {
    "conversations.custom_channels.read": "Read custom channels and their accounts",
    "conversations.custom_channels.write": "Manage custom channels and publish messages",
    "conversations.read": "Read inboxes and conversations",
}


class AppCreateForm(forms.Form):
    """The "Create app" form: what an admin types. ``app_create`` checks it as well (the rules
    the ``create_app`` command gets) and its errors go beside these fields."""

    name = forms.CharField(max_length=APP_NAME_MAX_LENGTH)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    logo_url = forms.URLField(
        label="Logo URL",
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text="An absolute http(s) URL of a square image.",
    )
    redirect_uris = forms.CharField(
        label="OAuth redirect URIs",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Optional, one per line: where the consent page may send the app's "
        "authorization codes. Leave empty for an app that only uses static tokens.",
    )

    def clean_redirect_uris(self) -> list[str]:
        text = self.cleaned_data.get("redirect_uris") or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class TokenCreateForm(forms.Form):
    """The "Create token" form: a name to tell the token apart and the scopes it grants."""

    name = forms.CharField(
        max_length=TOKEN_NAME_MAX_LENGTH,
        help_text="Where the token is used, e.g. “Production bridge”.",
    )
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{SCOPE_LABELS.get(scope, scope)} ({scope})") for scope in ALL_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        initial=list(ALL_SCOPES),
        error_messages={"required": "Choose at least one scope."},
    )
