"""Delivery benchmark: replies delivered by a real Celery worker vs. a plain pooled loop.

Runs a real worker (threads pool, Redis broker, PostgreSQL) and a local receiver, enqueues M
replies in one transaction and measures until all M deliveries have succeeded. In the same run,
sends the same M signed requests to the same receiver from a plain loop with a pooled HTTP client
and the same concurrency. Prints deliveries/s for both; the last line is the ratio.

    .venv/bin/python bench/deliver.py [--replies 2000] [--concurrency 8]

Needs PostgreSQL (BENCH_DATABASE_URL, default local helpdesk_bench) and Redis (BENCH_REDIS_URL,
default redis://127.0.0.1:6379/13).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, ROOT, bench_environment, ensure_database, run_manage

ENQUEUE_SCRIPT = """
import json, sys
from django.db import transaction
from django.utils import timezone
from channels_app.deliveries import event_enqueue
from channels_app.models import ChannelAccount, CustomChannel, Delivery
from channels_app.services import app_create
from channels_app.signing import signing_secret_generate
from tickets.models import Contact, Inbox, Message, Pipeline, Thread, Ticket
count, url = int(sys.argv[-2]), sys.argv[-1]
created = app_create(name="Bench deliveries")
channel = CustomChannel.objects.create(app=created.app, name="Bench", webhook_url=url,
    signing_secret=signing_secret_generate(), capabilities={"allowOutgoingMessages": True})
account = ChannelAccount.objects.create(channel=channel, inbox=Inbox.objects.first(), name="Bench")
pipeline = Pipeline.objects.get(is_default=True)
contact = Contact.objects.create(name="Bench customer")
ticket = Ticket.objects.create(name="Bench", pipeline=pipeline, status=pipeline.statuses.first(),
    contact=contact, channel_account=account)
thread = Thread.objects.create(ticket=ticket, channel_account=account, contact=contact)
messages = Message.objects.bulk_create(Message(thread=thread, ticket=ticket, channel=channel,
    channel_account=account, direction="OUTGOING", text=f"Reply {i}", status="PENDING",
    client_type="HUBSPOT", timestamp=timezone.now()) for i in range(count))
started = time.time() if False else None
import time as _t
with transaction.atomic():
    for message in messages:
        event_enqueue(channel=channel, event_type="OUTGOING_CHANNEL_MESSAGE_CREATED",
            payload={"channelId": str(channel.pk), "channelAccountId": str(account.pk),
                     "channelIntegrationThreadIds": [], "message": {"id": str(message.pk),
                     "text": message.text, "direction": "OUTGOING"}},
            channel_account_id=account.pk, message_id=message.pk)
    committed_at = None
print(json.dumps({"channel": channel.pk, "committed_at": _t.time(),
                  "client_secret": created.app.client_secret, "signing_secret": channel.signing_secret}))
"""


class CountingReceiver:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def succeeded_count(env: dict[str, str], channel_id: int) -> int:
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as connection:
        row = connection.execute(
            "SELECT count(*) FROM channels_app_delivery WHERE channel_id = %s AND status = 'succeeded'",
            [channel_id],
        ).fetchone()
    return int(row[0]) if row else 0


def plain_loop(url: str, count: int, concurrency: int, secrets: dict[str, str]) -> float:
    """The same number of signed requests, from a pooled client: the ceiling we compare with."""
    from channels_app.signing import signed_headers

    http = urllib3.PoolManager(maxsize=concurrency, block=True)

    def send(index: int) -> int:
        body = json.dumps(
            {"type": "OUTGOING_CHANNEL_MESSAGE_CREATED", "message": {"id": str(index)}},
            separators=(",", ":"),
        ).encode()
        headers = signed_headers(
            client_secret=secrets["client_secret"],
            signing_secrets=[secrets["signing_secret"]],
            event_id=f"plain-{index}",
            method="POST",
            uri=url,
            body=body,
            now_ms=int(time.time() * 1000),
        )
        return http.request(
            "POST", url, body=body, headers={"Content-Type": "application/json", **headers}
        ).status

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        statuses = list(pool.map(send, range(count)))
    elapsed = time.perf_counter() - started
    assert all(status == 200 for status in statuses)
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    database_url = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helpdesk_bench"
    )
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    ensure_database(database_url)
    env = bench_environment(database_url, REDIS_URL=redis_url, WEBHOOK_ALLOW_PRIVATE_TARGETS="true")
    run_manage(env, "migrate", "--no-input", "-v", "0")
    subprocess.run(["redis-cli", "-u", redis_url, "FLUSHDB"], check=False, capture_output=True)

    receiver = CountingReceiver()
    worker = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "helpdesk",
            "worker",
            "-Q",
            "celery,webhooks",
            "-P",
            "threads",
            "-c",
            str(args.concurrency),
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(4)  # worker start-up
        setup = json.loads(
            run_manage(
                env,
                "shell",
                "-c",
                ENQUEUE_SCRIPT.replace("sys.argv[-2]", str(args.replies)).replace(
                    "sys.argv[-1]", repr(receiver.url)
                ),
            )
            .strip()
            .splitlines()[-1]
        )
        while succeeded_count(env, setup["channel"]) < args.replies:
            time.sleep(0.05)
        worker_rate = args.replies / (time.time() - setup["committed_at"])
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    plain_rate = plain_loop(receiver.url, args.replies, args.concurrency, setup)
    print(f"replies={args.replies} concurrency={args.concurrency} (worker threads = loop threads)")
    print(
        f"worker deliveries: {worker_rate:.1f}/s (commit to last success, recorded in PostgreSQL)"
    )
    print(f"plain pooled loop: {plain_rate:.1f}/s (same signed requests, same receiver)")
    print(f"ratio (worker / plain loop): {worker_rate / plain_rate:.2f}")


if __name__ == "__main__":
    main()
