"""Server-rendered pages of the custom-channels app (one module per concept)."""
