"""What signing a webhook costs, in microseconds of CPU per message: HMAC-SHA256 (`v1`) and ed25519
(`v1a`), one key and two (a rotation's grace period), over the 1,744-byte `order.created` body of
bench.webhook_dispatch. No stack needed.

    .venv/bin/python -m bench.webhook_signing [--calls 20000]
"""

import argparse
import time
import uuid

from services.webhook_dispatcher.domain import new_signing_key, signatures

BODY_BYTES = 1744


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    calls = parser.parse_args().calls
    body = b"x" * BODY_BYTES
    message_id = str(uuid.uuid4())
    print(f"{'signing':<12} {'keys':>4} {'µs CPU per message':>19}")
    for signing in ("hmac-sha256", "ed25519"):
        keys = [new_signing_key(signing), new_signing_key(signing)]
        for count in (1, 2):
            signatures(keys[:count], message_id, 1_700_000_000, body)  # keys loaded once, as in a sender
            started = time.process_time()
            for _ in range(calls):
                signatures(keys[:count], message_id, 1_700_000_000, body)
            per_call = (time.process_time() - started) / calls * 1e6
            print(f"{signing:<12} {count:>4} {per_call:>19.1f}")


if __name__ == "__main__":
    main()
