"""Admin for contacts, pipelines, tickets and their conversations (browse and fix data)."""

from django.contrib import admin

from tickets.models import (
    Attachment,
    Contact,
    ContactIdentifier,
    File,
    Inbox,
    Message,
    Pipeline,
    PipelineStatus,
    Thread,
    Ticket,
)


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "type", "created_at")


class ContactIdentifierInline(admin.TabularInline):
    model = ContactIdentifier
    extra = 0
    fields = ("kind", "value", "channel")
    raw_id_fields = ("channel",)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "email", "phone", "owner", "created_at")
    list_select_related = ("owner",)
    search_fields = ("name", "email", "phone", "identifiers__value")
    raw_id_fields = ("owner",)
    inlines = [ContactIdentifierInline]


class PipelineStatusInline(admin.TabularInline):
    model = PipelineStatus
    extra = 0
    fields = ("name", "state", "display_order", "required_properties")


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "is_default", "display_order")
    inlines = [PipelineStatusInline]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("timestamp", "direction", "medium", "text", "status", "failure_reason")
    readonly_fields = fields
    show_change_link = True
    can_delete = False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "status",
        "state",
        "priority",
        "owner",
        "contact",
        "channel_account",
        "created_at",
    )
    list_filter = ("state", "priority", "category", "pipeline")
    list_select_related = ("status", "owner", "contact", "channel_account")
    search_fields = ("name", "contact__name")
    raw_id_fields = ("owner", "contact", "channel_account")
    readonly_fields = ("created_at", "updated_at", "closed_at", "assigned_at", "last_message_at")


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "ticket",
        "channel_account",
        "contact",
        "integration_thread_id",
        "is_open",
    )
    list_filter = ("is_open",)
    list_select_related = ("ticket", "channel_account", "contact")
    raw_id_fields = ("ticket", "channel_account", "contact", "contact_identifier")
    inlines = [MessageInline]


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    fields = ("position", "type", "file", "file_usage_type", "data")
    raw_id_fields = ("file",)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "ticket", "direction", "medium", "status", "timestamp")
    list_filter = ("direction", "medium", "status")
    list_select_related = ("ticket",)
    search_fields = ("text",)
    raw_id_fields = (
        "thread",
        "ticket",
        "channel",
        "channel_account",
        "in_reply_to",
        "sender_contact",
        "sender_user",
        "app",
    )
    inlines = [AttachmentInline]


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "content_type", "size", "app", "created_at")
    list_select_related = ("app",)
    raw_id_fields = ("app", "uploaded_by")
