"""Contacts, pipelines, tickets, threads, messages, attachments and files, the inbox."""
