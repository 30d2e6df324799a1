"""`python -m deploy.dlq` (and `./dev dlq`): look at dead letters and put them back on their topic.

A consumer sends a message it can never apply to `<topic>.dlq` (shared/consumer.py): the same key,
value and headers, plus `dlq_*` headers saying why, where from and when. A dead letter is named by its
dead-letter topic, partition and offset (`PARTITION:OFFSET`, as `list` prints it). A replay produces it
again to its original topic and partition with its original key, value and headers (the `dlq_*` ones
left out) and a `dlq_replayed_from` marker, and records it in `operations.dlq_replays` so that it is
replayed at most once (deploy/dlq/replays.py).
"""
