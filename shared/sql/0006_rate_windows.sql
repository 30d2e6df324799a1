-- Fixed-window request counters (shared/rate_limits.py), in every service's schema: the requests of each
-- API key (shared/key_rate_limit.py), and order_api's guest lookups and failed token requests. Shared by
-- every instance, so a limit holds however many there are. (order_api counted in its own
-- rate_limit_windows before; its 0013 drops that table.)
CREATE TABLE rate_windows (
    bucket        text NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    hits          integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_windows_window_end ON rate_windows (window_end);
