"""The local stack: PostgreSQL and Kafka without Docker, state in .local/ (`python -m deploy.local`).

Tests use deploy.local.stack: ensure_stack(), kafka_stop(), kafka_start(), kafka_kill().
"""
