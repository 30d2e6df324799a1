-- Asymmetric signatures and operational webhooks.
-- public_key: an ed25519 endpoint's Standard Webhooks public key (`whpk_...`), served by the admin API;
--   its private key (`whsk_...`) is kept in `secret` like an HMAC secret. NULL for an HMAC endpoint.
-- operational: an operator's endpoint, which receives the dispatcher's operational events (webhook.*)
--   instead of the subscribers' events.
-- failure_reported_at: when operators were first told this endpoint was failing (disabled, or a message
--   exhausted), until a delivery after that announces its recovery.
ALTER TABLE endpoints
    ADD COLUMN public_key           text,
    ADD COLUMN operational          boolean NOT NULL DEFAULT false,
    ADD COLUMN failure_reported_at  timestamptz;

CREATE INDEX endpoints_failure_reported ON endpoints (failure_reported_at) WHERE failure_reported_at IS NOT NULL;
