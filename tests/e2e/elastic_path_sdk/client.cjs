// Elastic Path's JavaScript SDK, unmodified, as a storefront's back office uses it: configured with a
// host, a protocol and client credentials (client_id, and an API key as client_secret), it trades them
// for a token at POST /oauth/access_token, then calls order_api's Elastic Path routes with it.
//
//   node client.cjs anonymize <order id>...   Orders.anonymize({order_ids: [...]})
//   node client.cjs get <order id>            Orders.Get(id)
//
// Settings from the environment: EP_HOST (host:port), EP_PROTOCOL, EP_CLIENT_ID, EP_CLIENT_SECRET.
// The last line of stdout is one JSON object (the SDK logs its token checks on stdout before it):
// {"ok": true, "result": <what the SDK resolved>, "credentials": <what it stored of the token>} or
// {"ok": false, "error": <what the SDK rejected with>, "credentials": ...}.
'use strict';

const { gateway, MemoryStorageFactory } = require('@elasticpath/js-sdk');

const [command, ...ids] = process.argv.slice(2);
const storage = new MemoryStorageFactory();
const sdk = gateway({
  host: process.env.EP_HOST,
  protocol: process.env.EP_PROTOCOL,
  client_id: process.env.EP_CLIENT_ID,
  client_secret: process.env.EP_CLIENT_SECRET,
  storage,
});

const calls = {
  anonymize: () => sdk.Orders.anonymize({ order_ids: ids }),
  get: () => sdk.Orders.Get(ids[0]),
};

function report(outcome) {
  const stored = storage.get('epCredentials');
  process.stdout.write(`\n${JSON.stringify({ ...outcome, credentials: stored ? JSON.parse(stored) : null })}\n`);
}

if (!(command in calls)) {
  report({ ok: false, error: `unknown command ${command}; use anonymize or get` });
  process.exitCode = 2;
} else {
  calls[command]().then(
    (result) => report({ ok: true, result }),
    (error) => report({ ok: false, error: error instanceof Error ? String(error) : error }),
  );
}
