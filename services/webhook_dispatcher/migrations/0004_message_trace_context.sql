-- The W3C trace context (shared/tracing.py) a message was fanned out in, sent on with each of its
-- delivery attempts, so one trace shows an event from its cause to its webhook. NULL outside a trace.
ALTER TABLE messages ADD COLUMN traceparent text, ADD COLUMN tracestate text;
