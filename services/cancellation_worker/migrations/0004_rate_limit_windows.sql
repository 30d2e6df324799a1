-- Fixed-window request counters (shared/rate_limits.py): the requests of each API key, shared by every
-- instance so the limit holds however many there are (shared/key_rate_limit.py).
CREATE TABLE rate_limit_windows (
    bucket        text NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    hits          integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limit_windows_window_end ON rate_limit_windows (window_end);
