"""Server-rendered pages of the help desk: the home page and the reps' inbox.

One module per page family: `home` (the landing page), `inbox` (the workspace list,
search and saved views), `conversation` (a ticket's thread).
"""

from tickets.views.home import HomeView

__all__ = ["HomeView"]
