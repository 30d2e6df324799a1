-- The guest lookups and failed token requests now count in the kernel's rate_windows, with every API
-- key's requests (shared/rate_limits.py); the windows in progress start again, once.
DROP TABLE rate_limit_windows;
