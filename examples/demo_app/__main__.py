"""``python -m examples.demo_app``: starts the demo bridge beside a running help desk."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from examples.demo_app.client import ApiError
from examples.demo_app.server import Config, DemoApp
from examples.demo_app.state import DEFAULT_STATE_PATH

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
        "--credentials",
        type=Path,
        default=None,
        help="A file holding `manage.py create_app NAME --json` output, instead of the two above.",
    )
    parser.add_argument(
        "--port", type=int, default=int(env("DEMO_PORT", "8001")), help="(DEMO_PORT)"
    )
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE_PATH, help="The state file.")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="demo app: %(message)s")
    token, client_secret = args.token, args.client_secret
    if args.credentials is not None:
        try:
            credentials = json.loads(args.credentials.read_text())
            token = token or str(credentials["accessToken"])
            client_secret = client_secret or str(credentials["clientSecret"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.error("Cannot read %s (create_app --json output): %s", args.credentials, error)
            return 2
    if not token or not client_secret:
        logger.error(
            "The demo app needs an access token and the app's client secret:\n"
            '  python manage.py create_app "Demo app" --json\n'
            "prints both (accessToken, clientSecret); pass --token and --client-secret."
        )
        return 2
    app = DemoApp(
        Config(
            helpdesk_url=args.helpdesk,
            token=token,
            client_secret=client_secret,
            port=args.port,
            state_path=args.state,
        )
    )
    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while True:
        try:
            app.start()
            break
        except ApiError as error:
            if error.status != 0 or time.monotonic() > deadline:
                logger.error("Could not register with the help desk: %s", error)
                if error.status == 401:
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
