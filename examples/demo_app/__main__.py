"""``python -m examples.demo_app``: starts the demo bridge beside a running help desk.

With a static token (``--token``, or ``accessToken`` of ``--credentials``) it registers at once;
with ``--oauth`` (``clientId`` and ``clientSecret``, no token) its page offers "Install in the
help desk" and it registers once an admin approved.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from examples.demo_app.client import ApiError
from examples.demo_app.oauth import CALLBACK_PATH
from examples.demo_app.server import Config, DemoApp
from examples.demo_app.state import DEFAULT_STATE_PATH

# OAuth mode keeps its own state file by default, so that both modes can run side by side.
DEFAULT_OAUTH_STATE_PATH = DEFAULT_STATE_PATH.with_name("state-oauth.json")

logger = logging.getLogger("demo_app")
STARTUP_WAIT_SECONDS = 60  # `make run` may start the demo app before the help desk listens


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m examples.demo_app",
        description="A demo bridge: type as customers, see the reps' replies arrive.",
    )
    env = os.environ.get
    parser.add_argument(
        "--helpdesk",
        default=env("DEMO_HELPDESK_URL", "http://127.0.0.1:8000"),
        help="The help desk's base URL (DEMO_HELPDESK_URL).",
    )
    parser.add_argument("--token", default=env("DEMO_APP_TOKEN", ""), help="(DEMO_APP_TOKEN)")
    parser.add_argument(
        "--client-secret",
        default=env("DEMO_CLIENT_SECRET", ""),
        help="The app's client secret, to verify webhooks (DEMO_CLIENT_SECRET).",
    )
    parser.add_argument(
        "--oauth",
        action="store_true",
        help="OAuth mode: no static token; the page offers 'Install in the help desk'.",
    )
    parser.add_argument(
        "--client-id",
        default=env("DEMO_CLIENT_ID", ""),
        help="OAuth mode: the app's client id (DEMO_CLIENT_ID).",
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        default=None,
        help="A file holding `manage.py create_app NAME --json` output, instead of the above.",
    )
    parser.add_argument(
        "--port", type=int, default=int(env("DEMO_PORT", "8001")), help="(DEMO_PORT)"
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help=f"The state file ({DEFAULT_STATE_PATH.name}; {DEFAULT_OAUTH_STATE_PATH.name} "
        "with --oauth).",
    )
    return parser


def _credential(credentials: dict[str, object], *names: str) -> str:
    """A key of the credentials file: create_app's camelCase, or OAuth's snake_case."""
    for name in names:
        if credentials.get(name):
            return str(credentials[name])
    return ""


def config_from_args(argv: list[str] | None = None) -> Config | str:
    """The demo app's configuration, or what is wrong with the arguments."""
    args = _parser().parse_args(argv)
    token, client_secret, client_id = args.token, args.client_secret, args.client_id
    if args.credentials is not None:
        try:
            credentials = json.loads(args.credentials.read_text())
            if not isinstance(credentials, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as error:
            return f"Cannot read {args.credentials} (create_app --json output): {error}"
        token = token or _credential(credentials, "accessToken", "access_token")
        client_secret = client_secret or _credential(credentials, "clientSecret", "client_secret")
        client_id = client_id or _credential(credentials, "clientId", "client_id")
    # A credentials file with a client id and no token means OAuth, as --oauth does.
    oauth = args.oauth or (not token and bool(client_id))
    if oauth:
        if not client_id or not client_secret:
            return (
                "OAuth mode needs the app's client id and client secret:\n"
                '  python manage.py create_app "Demo app (OAuth)" --json '
                f"--redirect-uri http://127.0.0.1:{args.port}{CALLBACK_PATH}\n"
                "prints both (clientId, clientSecret); pass --credentials FILE, or "
                "--client-id and --client-secret."
            )
        token = ""  # the install gives the tokens
    elif not token or not client_secret:
        return (
            "The demo app needs an access token and the app's client secret:\n"
            '  python manage.py create_app "Demo app" --json\n'
            "prints both (accessToken, clientSecret); pass --token and --client-secret "
            "(or --oauth with a client id)."
        )
    state_path = args.state or (DEFAULT_OAUTH_STATE_PATH if oauth else DEFAULT_STATE_PATH)
    return Config(
        helpdesk_url=args.helpdesk,
        token=token,
        client_secret=client_secret,
        port=args.port,
        state_path=state_path,
        client_id=client_id if oauth else "",
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="demo app: %(message)s")
    config = config_from_args(argv)
    if isinstance(config, str):
        logger.error("%s", config)
        return 2
    app = DemoApp(config)
    if app.oauth is not None:
        logger.info(
            "OAuth mode: the app's redirect URI must be %s (create_app --redirect-uri).",
            app.redirect_uri,
        )
    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while True:
        try:
            app.start()
            break
        except ApiError as error:
            if error.status != 0 or time.monotonic() > deadline:
                logger.error("Could not register with the help desk: %s", error)
                if error.status == 401 and app.oauth is None:
                    logger.error(
                        "The token is unknown to this help desk (was its database reset?): "
                        'create a new app with `python manage.py create_app "Demo app" --json`.'
                    )
                app.stop()
                return 1
            app.server.shutdown()  # the help desk is not up yet: try again in a moment
            time.sleep(1)
    logger.info("Open %s/ (help desk %s)", app.url, app.client.base_url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
