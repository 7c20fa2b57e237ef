"""Ingest benchmark: inbound messages over HTTP against the help desk and against a baseline.

Starts the app under gunicorn (2 workers) on PostgreSQL, publishes N inbound messages at
concurrency C to ``POST /conversations/v3/custom-channels/{id}/messages``, then the same bodies
to the baseline endpoint (``bench/baseline.py``: authenticated DRF view, same validation, one
row). Prints messages/s, p50 and p99 for both; the last line is the ratio.

    .venv/bin/python bench/ingest.py [--messages 2000] [--concurrency 16]

DATABASE_URL picks the PostgreSQL server (default: the local one, database helpdesk_bench).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    bench_environment,
    ensure_database,
    gunicorn_server,
    post_json_load,
    run_manage,
)

SETUP_SCRIPT = """
import json
from channels_app.models import ChannelAccount, CustomChannel
from channels_app.services import app_create
from tickets.models import Inbox
created = app_create(name="Bench SMS")
channel = CustomChannel.objects.create(
    app=created.app, name="Bench SMS", signing_secret="whsec_bench",
    capabilities={"deliveryIdentifierTypes": ["HS_PHONE_NUMBER"],
                  "threadingModel": "INTEGRATION_THREAD_ID", "allowOutgoingMessages": True},
)
account = ChannelAccount.objects.create(
    channel=channel, inbox=Inbox.objects.first(), name="Bench line",
    delivery_identifier_type="HS_PHONE_NUMBER", delivery_identifier_value="+15550009999",
)
print(json.dumps({"token": created.access_token, "channel": channel.pk, "account": account.pk}))
"""


def message_bodies(count: int, account_id: int, run_tag: str) -> list[dict]:
    """Ten messages per conversation, each conversation from its own customer."""
    bodies = []
    for index in range(count):
        conversation = index // 10
        bodies.append(
            {
                "text": f"Hello, this is message {index} of the benchmark",
                "messageDirection": "INCOMING",
                "channelAccountId": str(account_id),
                "senders": [
                    {
                        "deliveryIdentifier": {
                            "type": "HS_PHONE_NUMBER",
                            "value": f"+1202555{conversation % 10000:04d}",
                        },
                        "name": f"Customer {conversation}",
                    }
                ],
                "recipients": [
                    {"deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": "+15550009999"}}
                ],
                "timestamp": "2026-11-25T10:00:00.000Z",
                "integrationThreadId": f"{run_tag}-{conversation}",
                "attachments": [],
            }
        )
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    database_url = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helpdesk_bench"
    )
    ensure_database(database_url)
    env = bench_environment(database_url)
    run_manage(env, "migrate", "--no-input", "-v", "0")
    setup = json.loads(run_manage(env, "shell", "-c", SETUP_SCRIPT).strip().splitlines()[-1])
    headers = {"Authorization": f"Bearer {setup['token']}"}
    run_tag = os.urandom(4).hex()

    with gunicorn_server(env) as base_url:
        ours_url = f"{base_url}/conversations/v3/custom-channels/{setup['channel']}/messages"
        baseline_url = f"{base_url}/bench/baseline/{setup['channel']}/messages"
        warmup = message_bodies(args.warmup, setup["account"], run_tag + "w")
        post_json_load("warmup", ours_url, warmup, headers=headers, concurrency=args.concurrency)
        post_json_load(
            "warmup", baseline_url, warmup, headers=headers, concurrency=args.concurrency
        )

        bodies = message_bodies(args.messages, setup["account"], run_tag)
        baseline = post_json_load(
            "baseline", baseline_url, bodies, headers=headers, concurrency=args.concurrency
        )
        ours = post_json_load(
            "help desk", ours_url, bodies, headers=headers, concurrency=args.concurrency
        )

    print(
        f"messages={args.messages} concurrency={args.concurrency} server=gunicorn 2 workers x 8 threads"
    )
    print(baseline.line())
    print(ours.line())
    if ours.errors or baseline.errors:
        print("WARNING: some requests failed; the figures are not comparable")
    print(
        f"ratio (help desk / baseline messages per second): {ours.per_second / baseline.per_second:.2f}"
    )


if __name__ == "__main__":
    main()
