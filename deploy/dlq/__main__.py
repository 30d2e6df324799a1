"""`python -m deploy.dlq list [TOPIC] | show TOPIC PARTITION:OFFSET | replay TOPIC [--type T] [--since TIME]
[--dry-run]`; settings from KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (an administrative DSN), the local
stack's by default. TOPIC is an event topic (`orders.ingest`) or its dead-letter topic (`orders.ingest.dlq`)."""

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from aiokafka.errors import KafkaError

from deploy.dlq import replays
from deploy.dlq.letters import DlqError, dead_letter_topic, parse_position, read_dead_letter, read_dead_letters
from deploy.dlq.replay import Selection, replay
from shared.dsn import admin_dsn
from shared.services import LOCAL_KAFKA_BOOTSTRAP
from shared.topics import EVENT_TOPICS, dlq


def aware_time(text: str) -> datetime:
    """An ISO 8601 time with its offset (`2026-11-30T06:00:00Z`): a time without one is ambiguous."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r} (e.g. 2026-11-30T06:00:00Z)") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset: add Z or +HH:MM (e.g. {text}Z)")
    return moment


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m deploy.dlq", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the dead letters of a topic; without one, how many each topic has")
    listing.add_argument("topic", nargs="?")
    show = commands.add_parser("show", help="one dead letter whole: headers (error, stack trace), key, value")
    show.add_argument("topic")
    show.add_argument("position", metavar="PARTITION:OFFSET", help="as `list` prints it, e.g. 3:17")
    again = commands.add_parser("replay", help="put dead letters back on their original topic, each at most once")
    again.add_argument("topic")
    again.add_argument("--type", dest="event_type", help="only dead letters of this event type (ce_type)")
    again.add_argument("--since", type=aware_time, help="only those dead-lettered at or after this time")
    again.add_argument("--dry-run", action="store_true", help="say what would be replayed, replay nothing")
    return root


async def run(args: argparse.Namespace, bootstrap: str, dsn: str) -> list[str]:
    """The command's output lines."""
    topic = dead_letter_topic(args.topic) if args.topic is not None else None  # refused before any I/O
    if args.command == "show":
        partition, offset = parse_position(args.position)
        return [(await read_dead_letter(bootstrap, str(topic), partition, offset)).details()]
    conn = await asyncpg.connect(dsn)
    try:
        if topic is None:
            return [await _count(bootstrap, conn, dlq(event_topic)) for event_topic in EVENT_TOPICS]
        if args.command == "replay":
            summary = await replay(bootstrap, conn, topic, Selection(args.event_type, args.since), dry_run=args.dry_run)
            return summary.lines(dry_run=args.dry_run)
        done = await replays.replayed(conn, topic)
        letters = await read_dead_letters(bootstrap, topic)
        return [
            f"{'replayed' if (letter.partition, letter.offset) in done else 'waiting ':<9}{letter.summary()}"
            for letter in letters
        ] or [f"{topic}: no dead letters"]
    finally:
        await conn.close()


async def _count(bootstrap: str, conn: asyncpg.Connection, topic: str) -> str:
    letters = await read_dead_letters(bootstrap, topic)
    done = await replays.replayed(conn, topic)
    waiting = sum(1 for letter in letters if (letter.partition, letter.offset) not in done)
    return f"{topic:<28} {len(letters):>6} dead letters, {waiting:>6} not replayed"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or LOCAL_KAFKA_BOOTSTRAP
    try:
        lines = asyncio.run(run(args, bootstrap, admin_dsn()))
    except DlqError as error:
        print(f"dlq: {error}", file=sys.stderr)
        return 2
    except (KafkaError, OSError, asyncpg.PostgresError) as error:
        print(f"dlq: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
