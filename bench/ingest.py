"""Ingest benchmark: inbound messages over HTTP against the help desk and against a baseline.

Starts the app under gunicorn (2 sync workers) on PostgreSQL and, in each of ``--rounds`` rounds,
loads the baseline endpoint (``bench/baseline.py``: an authenticated DRF view, the same
validation, one row) and then ``POST /conversations/v3/custom-channels/{id}/messages`` with the
same inbound messages at concurrency C: with wrk for ``--seconds`` each when it is installed,
else ``--messages`` from Python threads. Messages come ten per conversation, 64 conversations
open at a time, each conversation's messages in order. Prints messages/s, p50 and p99 per round
and their medians; the last line is the median of the rounds' ratios.

    .venv/bin/python bench/ingest.py [--rounds 3] [--seconds 10] [--concurrency 16]

BENCH_DATABASE_URL picks the PostgreSQL server (default: the local one, database helpdesk_bench).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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
from channels_app.accounts import channel_account_connect
from channels_app.services import app_create, channel_create
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


# Conversations open at a time, taking turns: each conversation's messages arrive one after the
# other, in order (as a bridge forwards a chat), while the load spreads over many conversations.
# (Posting one conversation's messages all at once would measure its thread's lock instead.)
OPEN_CONVERSATIONS = 64
MESSAGES_PER_CONVERSATION = 10


def message_bodies(count: int, account_id: int, run_tag: str) -> list[dict]:
    """Ten messages per conversation, each conversation from its own customer, interleaved
    over ``OPEN_CONVERSATIONS`` (the same order as ``wrk_messages.lua``)."""
    bodies = []
    window = OPEN_CONVERSATIONS * MESSAGES_PER_CONVERSATION
    for index in range(count):
        conversation = (index // window) * OPEN_CONVERSATIONS + index % OPEN_CONVERSATIONS
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
        "--seconds", type=int, default=10, help="with wrk: how long each side is loaded a round"
    )
    parser.add_argument("--rounds", type=int, default=3, help="baseline, then ours, this often")
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

    # One request at a time per worker (gunicorn's sync workers): the work is CPU-bound on 2
    # cores, where more threads only contend for each process's GIL (both sides measured 5-10%
    # slower with 8 gthread threads); and a sync worker takes a connection only when it is free,
    # which keeps the two workers evenly loaded (p99 about half of the gthread worker's).
    with gunicorn_server(env, threads=1) as base_url:
        ours_url = f"{base_url}/conversations/v3/custom-channels/{setup['channel']}/messages"
        baseline_url = f"{base_url}/bench/baseline/{setup['channel']}/messages"
        warmup = message_bodies(args.warmup, setup["account"], run_tag + "w")
        post_json_load("warmup", ours_url, warmup, headers=headers, concurrency=args.concurrency)
        post_json_load(
            "warmup", baseline_url, warmup, headers=headers, concurrency=args.concurrency
        )

        # Rounds alternate the two sides, so a slow spell of this shared machine weighs on both
        # alike; the ratio is the median of the rounds' ratios.
        rounds: list[tuple[LoadResult, LoadResult]] = []
        client = "wrk" if shutil.which("wrk") else "python threads (install Debian's wrk)"
        for round_number in range(args.rounds):
            tag = f"{run_tag}r{round_number}"
            if client == "wrk":
                baseline = wrk_load(
                    "baseline", baseline_url, args, setup["token"], setup["account"], tag
                )
                ours = wrk_load("help desk", ours_url, args, setup["token"], setup["account"], tag)
            else:
                bodies = message_bodies(args.messages, setup["account"], tag)
                baseline = post_json_load(
                    "baseline", baseline_url, bodies, headers=headers, concurrency=args.concurrency
                )
                ours = post_json_load(
                    "help desk", ours_url, bodies, headers=headers, concurrency=args.concurrency
                )
            rounds.append((baseline, ours))

    load = f"{args.seconds} s per side" if client == "wrk" else f"messages={args.messages}"
    print(
        f"{args.rounds} rounds, {load}, concurrency={args.concurrency}, "
        f"{OPEN_CONVERSATIONS} conversations open at a time, {MESSAGES_PER_CONVERSATION} messages "
        f"each; server=gunicorn 2 sync workers, client={client}"
    )
    ratios = []
    for round_number, (baseline, ours) in enumerate(rounds, start=1):
        ratios.append(ours.per_second / baseline.per_second)
        print(f"round {round_number}: {baseline.line()}")
        print(f"round {round_number}: {ours.line()}  (ratio {ratios[-1]:.2f})")
        if ours.errors or baseline.errors:
            print("WARNING: some requests failed; the figures are not comparable")
    for side in (0, 1):
        results = [pair[side] for pair in rounds]
        print(
            f"median of rounds, {results[0].name}: "
            f"{statistics.median(r.per_second for r in results):.1f}/s, "
            f"p50 {statistics.median(r.percentile(0.5) for r in results):.1f} ms, "
            f"p99 {statistics.median(r.percentile(0.99) for r in results):.1f} ms"
        )
    print(
        "ratio (help desk / baseline messages per second, median of rounds): "
        f"{statistics.median(ratios):.2f}"
    )


if __name__ == "__main__":
    main()
