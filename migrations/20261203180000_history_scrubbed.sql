-- Why: before this version, text a server sent was stored as it came, so a server that echoed
-- a credential (an auth middleware answering `401 invalid credentials: Bearer …`, a close
-- reason quoting a token) left that secret in close reasons, handshake errors, give-up reasons
-- and the accepted subprotocol and extensions. New text is masked where it enters the probe.
-- What is already stored is masked once, endpoint by endpoint, by `Store::scrub_pending`: it
-- masks by value, so it needs each endpoint's secret values from the keychain (or the 0600
-- file) and runs after a shell has loaded them, not here. This table lists the endpoints whose
-- history is still to be scrubbed — every endpoint that exists now; endpoints added later are
-- recorded clean from the start and never appear. A row goes when its endpoint is done; one
-- whose secrets cannot be read stays until they can.

CREATE TABLE history_scrub_pending (
    endpoint_id INTEGER PRIMARY KEY
);

INSERT INTO history_scrub_pending (endpoint_id) SELECT id FROM endpoints;
