"""A demo bridge: a small web app that plays a messaging service connected to the help desk.

It uses only the public API and webhooks, as a real bridge would: on first start it registers
its own custom channel (with a credential field) and a channel account, then lets a person type
messages as one or several customers and shows the reps' replies as the help desk delivers them
(both signatures verified, READ reported once shown). Standard library plus ``urllib3``.

Run it beside the help desk::

    python -m examples.demo_app --helpdesk http://127.0.0.1:8000 \\
        --token <accessToken> --client-secret <clientSecret> --port 8001

and open http://127.0.0.1:8001/. Or with OAuth, as a HubSpot public app is installed: start it
with ``--oauth --credentials <create_app --json --redirect-uri .../oauth/callback output>``;
its page offers "Install in the help desk", and it keeps its tokens fresh (``oauth.py``).
"""
