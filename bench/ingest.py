"""Ingest benchmark: inbound messages over HTTP against the help desk and against a baseline.

Starts the app under gunicorn (2 workers) on PostgreSQL, publishes inbound messages at
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
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    LoadResult,
    bench_environment,
    ensure_database,
    gunicorn_server,
    post_json_load,
    run_manage,
)

SETUP_SCRIPT = """
import json
from channels_app.services import app_create, channel_account_connect, channel_create
created = app_create(name="Bench SMS")
channel = channel_create(
    app=created.app, name="Bench SMS",
    capabilities={"deliveryIdentifierTypes": ["HS_PHONE_NUMBER"],
                  "threadingModel": "INTEGRATION_THREAD_ID", "allowOutgoingMessages": True},
)
account = channel_account_connect(
    channel=channel, name="Bench line",
    delivery_identifier={"type": "HS_PHONE_NUMBER", "value": "+15550009999"},
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


def wrk_load(
    name: str, url: str, args: argparse.Namespace, token: str, account: int, tag: str
) -> LoadResult:
    """The same load from wrk (C): the load generator then takes little of the two cores."""
    parsed = urlparse(url)
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{args.concurrency}",
            f"-d{args.seconds}s",
            "--latency",
            "-s",
            str(Path(__file__).with_name("wrk_messages.lua")),
            f"{parsed.scheme}://{parsed.netloc}",
            "--",
            parsed.path,
            token,
            str(account),
            tag,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(row for row in output.splitlines() if row.startswith("WRK "))
    count, duration_us, errors, p50, p99 = line.split()[1:]
    result = LoadResult(name, int(count), int(errors), int(duration_us) / 1e6, [])
    result.fixed_percentiles = (float(p50), float(p99))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--seconds", type=int, default=15, help="with wrk: how long each side is loaded"
    )
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

        if shutil.which("wrk"):
            client = "wrk"
            baseline = wrk_load(
                "baseline", baseline_url, args, setup["token"], setup["account"], run_tag
            )
            ours = wrk_load("help desk", ours_url, args, setup["token"], setup["account"], run_tag)
        else:
            client = "python threads (install Debian's wrk for a lighter client)"
            bodies = message_bodies(args.messages, setup["account"], run_tag)
            baseline = post_json_load(
                "baseline", baseline_url, bodies, headers=headers, concurrency=args.concurrency
            )
            ours = post_json_load(
                "help desk", ours_url, bodies, headers=headers, concurrency=args.concurrency
            )

    print(
        f"messages={args.messages} concurrency={args.concurrency} "
        f"server=gunicorn 2 workers x 8 threads, client={client}"
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
