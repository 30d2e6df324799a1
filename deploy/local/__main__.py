"""`python -m deploy.local up|down [--purge]|status|run|demo-catalog`, and the outages to drill with:
`kafka-stop|kafka-start|postgres-crash|postgres-start`."""

import argparse
import sys

from deploy.demo_catalog import publish_demo_catalog
from deploy.local import kafka, stack
from deploy.local.base import StackError, run_sync, say
from deploy.local.run import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start Postgres and Kafka unless running, then provision")
    up.add_argument(
        "--brokers",
        type=int,
        choices=kafka.BROKER_COUNTS,
        help="Kafka nodes: 1, or a KRaft cluster of 3 (topics replicated 3 times, min.insync.replicas 2); "
        "remembered by later commands (default: LOCAL_KAFKA_BROKERS, else the last up's, else 1)",
    )
    down = commands.add_parser("down", help="stop what the launcher started, keeping the data")
    down.add_argument("--purge", action="store_true", help="also delete the Postgres and Kafka data")
    commands.add_parser("status", help="what runs and answers (exit 1 unless Postgres and Kafka answer)")
    commands.add_parser("run", help="up, then run the services, payments sandbox and SMTP sink until Ctrl-C")
    commands.add_parser("kafka-stop", help="stop only the local broker, keeping its data")
    commands.add_parser("kafka-start", help="start only the local broker and wait until it answers")
    commands.add_parser("postgres-crash", help="stop only the local Postgres as a crash would (outage drills)")
    commands.add_parser("postgres-start", help="start only the local Postgres and wait until it accepts")
    commands.add_parser("demo-catalog", help="up, then publish the demo catalog (the documents' variants) to order_api")
    args = parser.parse_args(argv)

    try:
        match args.command:
            case "up":
                stack.up(args.brokers)
            case "down":
                stack.down(purge=args.purge)
            case "status":
                return 0 if stack.status() else 1
            case "run":
                return run()
            case "kafka-stop":
                stack.kafka_stop()
            case "kafka-start":
                stack.kafka_start()
            case "postgres-crash":
                stack.postgres_crash()
            case "postgres-start":
                stack.postgres_start()
            case "demo-catalog":
                _, bootstrap = stack.up()
                say(f"demo catalog: {run_sync(publish_demo_catalog(bootstrap))} facts published to orders.ingest")
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
