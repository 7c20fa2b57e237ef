"""The public REST API for external apps (API.md): one module per resource."""
