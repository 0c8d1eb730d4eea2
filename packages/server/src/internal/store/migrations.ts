/**
 * The SQL stores' schema: a versioned list of migrations, applied in order at startup in one
 * transaction under a transaction-scoped advisory lock, so two replicas starting at once apply each
 * migration exactly once (the second waits, then finds nothing to do). Applied versions are recorded
 * in `mta_schema_migrations`; a database newer than this code is refused rather than misread.
 *
 * Never edit a released migration: append a new one. PGlite and PostgreSQL run the same SQL.
 */

/** One schema step. */
export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

/** The advisory lock key that serialises migrations (any constant; "mta" in ASCII). */
export const MIGRATION_LOCK = 0x6d7461

export const migrations: ReadonlyArray<Migration> = [
  {
    version: 1,
    name: "inbox, projection, events, idempotency, audit",
    sql: `
CREATE TABLE mta_inbox (
  notification_id text PRIMARY KEY,
  zrn text NOT NULL,
  status text NOT NULL,
  occurred_at bigint NOT NULL,
  received_at bigint NOT NULL,
  participant_code text,
  account_label text,
  payload jsonb NOT NULL,
  outcome text NOT NULL,
  event_id bigint
);
CREATE INDEX mta_inbox_account ON mta_inbox (participant_code, account_label, occurred_at)
  WHERE participant_code IS NOT NULL;

CREATE TABLE mta_projection (
  zrn text PRIMARY KEY,
  status text,
  updated_at bigint NOT NULL,
  source text NOT NULL
);

-- Event ids come from one counter row, locked until commit: events become visible in id order,
-- so a reader resuming after id N can never miss an N-1 that commits later (a sequence could).
CREATE TABLE mta_counters (name text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO mta_counters (name, value) VALUES ('event', 0);

CREATE TABLE mta_events (
  id bigint PRIMARY KEY,
  notification_id text NOT NULL,
  zrn text NOT NULL,
  status text NOT NULL,
  occurred_at bigint NOT NULL,
  received_at bigint NOT NULL,
  payload jsonb NOT NULL
);
CREATE INDEX mta_events_zrn ON mta_events (zrn, id);

CREATE TABLE mta_idempotency (
  caller text NOT NULL,
  key text NOT NULL,
  fingerprint text NOT NULL,
  state text NOT NULL CHECK (state IN ('in_flight', 'completed', 'reconciling')),
  response jsonb,
  participant_code text,
  account_label text,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  lease_until bigint NOT NULL,
  PRIMARY KEY (caller, key)
);
CREATE INDEX mta_idempotency_expiry ON mta_idempotency (expires_at);

CREATE TABLE mta_audit (
  id bigserial PRIMARY KEY,
  at bigint NOT NULL,
  caller text NOT NULL,
  action text NOT NULL,
  target text,
  summary jsonb NOT NULL,
  outcome text NOT NULL,
  status integer NOT NULL,
  request_id text NOT NULL
);
CREATE INDEX mta_audit_target ON mta_audit (target, id);
CREATE INDEX mta_audit_caller ON mta_audit (caller, id);
CREATE INDEX mta_audit_at ON mta_audit (at, id);

CREATE FUNCTION mta_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'mta_audit is append-only';
END $$;
CREATE TRIGGER mta_audit_append_only BEFORE UPDATE OR DELETE ON mta_audit
  FOR EACH ROW EXECUTE FUNCTION mta_audit_append_only();

-- One notification: dedupe, order by timestamp, project, append. Returns what it did as JSON.
CREATE FUNCTION mta_ingest(n jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_event bigint;
  cur mta_projection%ROWTYPE;
BEGIN
  INSERT INTO mta_inbox (notification_id, zrn, status, occurred_at, received_at, participant_code,
                         account_label, payload, outcome)
  VALUES (n->>'notification_id', n->>'zrn', n->>'status', (n->>'occurred_at')::bigint,
          (n->>'received_at')::bigint, n->>'participant_code', n->>'account_label', n->'payload', 'pending')
  ON CONFLICT (notification_id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('outcome', 'duplicate');
  END IF;
  INSERT INTO mta_projection AS p (zrn, status, updated_at, source)
  VALUES (n->>'zrn', n->>'status', (n->>'occurred_at')::bigint, 'webhook')
  ON CONFLICT (zrn) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
                                  source = EXCLUDED.source
    WHERE p.updated_at <= EXCLUDED.updated_at;
  IF NOT FOUND THEN
    UPDATE mta_inbox SET outcome = 'stale' WHERE notification_id = n->>'notification_id';
    SELECT * INTO cur FROM mta_projection WHERE zrn = n->>'zrn';
    RETURN jsonb_build_object('outcome', 'stale', 'current', to_jsonb(cur));
  END IF;
  UPDATE mta_counters SET value = value + 1 WHERE name = 'event' RETURNING value INTO v_event;
  INSERT INTO mta_events (id, notification_id, zrn, status, occurred_at, received_at, payload)
  VALUES (v_event, n->>'notification_id', n->>'zrn', n->>'status', (n->>'occurred_at')::bigint,
          (n->>'received_at')::bigint, n->'payload');
  UPDATE mta_inbox SET outcome = 'applied', event_id = v_event WHERE notification_id = n->>'notification_id';
  PERFORM pg_notify('mta_changes', jsonb_build_object('origin', origin, 'event', v_event)::text);
  RETURN jsonb_build_object('outcome', 'applied', 'id', v_event);
END $$;

-- What the proxy learnt otherwise (its create, a read): applied when not older and different.
CREATE FUNCTION mta_observe(o jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  cur mta_projection%ROWTYPE;
BEGIN
  INSERT INTO mta_projection AS p (zrn, status, updated_at, source)
  VALUES (o->>'zrn', o->>'status', (o->>'at')::bigint, o->>'source')
  ON CONFLICT (zrn) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
                                  source = EXCLUDED.source
    WHERE p.updated_at <= EXCLUDED.updated_at AND p.status IS DISTINCT FROM EXCLUDED.status
  RETURNING * INTO cur;
  IF FOUND THEN
    PERFORM pg_notify('mta_changes', jsonb_build_object('origin', origin, 'record', to_jsonb(cur))::text);
    RETURN jsonb_build_object('changed', true, 'record', to_jsonb(cur));
  END IF;
  SELECT * INTO cur FROM mta_projection WHERE zrn = o->>'zrn';
  RETURN jsonb_build_object('changed', false, 'record', to_jsonb(cur));
END $$;

-- Claims idempotency keys that may exist already (a repeat, an expired or abandoned key), in the
-- order given (callers sort them, so concurrent batches lock rows in one order). New keys are
-- inserted by one set-based statement first (see sql.ts). Returns one outcome per item.
CREATE FUNCTION mta_claim(items jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  it jsonb;
  r mta_idempotency%ROWTYPE;
  acc record;
  res jsonb;
  results jsonb := '[]'::jsonb;
  v_now bigint;
BEGIN
  FOR it IN SELECT value FROM jsonb_array_elements(items) WITH ORDINALITY AS e(value, i) ORDER BY i LOOP
    v_now := (it->>'now')::bigint;
    res := NULL;
    FOR attempt IN 1..3 LOOP
      INSERT INTO mta_idempotency AS k (caller, key, fingerprint, state, participant_code, account_label,
                                        created_at, expires_at, lease_until)
      VALUES (it->>'caller', it->>'key', it->>'fingerprint', 'in_flight', it->>'participant_code',
              it->>'account_label', v_now, (it->>'expires_at')::bigint, (it->>'lease_until')::bigint)
      ON CONFLICT (caller, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, state = 'in_flight',
        response = NULL, participant_code = EXCLUDED.participant_code, account_label = EXCLUDED.account_label,
        created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, lease_until = EXCLUDED.lease_until
        WHERE k.expires_at <= EXCLUDED.created_at;
      IF FOUND THEN
        res := jsonb_build_object('outcome', 'claimed');
        EXIT;
      END IF;
      SELECT * INTO r FROM mta_idempotency WHERE caller = it->>'caller' AND key = it->>'key' FOR UPDATE;
      IF NOT FOUND THEN
        CONTINUE; -- swept between the two statements: claim again
      END IF;
      IF r.fingerprint <> it->>'fingerprint' THEN
        res := jsonb_build_object('outcome', 'mismatch');
      ELSIF r.state = 'completed' THEN
        res := jsonb_build_object('outcome', 'replay', 'response', r.response);
      ELSIF r.state = 'in_flight' AND r.lease_until > v_now THEN
        res := jsonb_build_object('outcome', 'in_flight');
      ELSIF r.state = 'in_flight' AND r.participant_code IS NULL THEN
        UPDATE mta_idempotency SET lease_until = (it->>'lease_until')::bigint
          WHERE caller = r.caller AND key = r.key;
        res := jsonb_build_object('outcome', 'claimed');
      ELSE
        IF r.state = 'in_flight' THEN
          UPDATE mta_idempotency SET state = 'reconciling' WHERE caller = r.caller AND key = r.key;
        END IF;
        SELECT zrn, payload INTO acc FROM mta_inbox
          WHERE participant_code = r.participant_code AND account_label = r.account_label
          ORDER BY occurred_at LIMIT 1;
        IF FOUND THEN
          res := jsonb_build_object('outcome', 'reconciling', 'zrn', acc.zrn, 'payload', acc.payload);
        ELSE
          res := jsonb_build_object('outcome', 'reconciling');
        END IF;
      END IF;
      EXIT;
    END LOOP;
    results := results || jsonb_build_array(res);
  END LOOP;
  RETURN results;
END $$;
`
  },
  {
    version: 2,
    name: "group commit: every step that arrived together in one call",
    sql: `
-- Every step that arrived together, in one transaction and one round trip: webhook ingests (in the
-- order given), observations, finished calls (key resolutions and audit entries), then idempotency
-- claims. The caller sorts finished calls
-- and claims by key (their "ord"), so concurrent batches lock keys in one order. Statements inside a
-- function keep their plans for the session: nothing is parsed or planned per call.
CREATE FUNCTION mta_batch(b jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  it jsonb;
  v_ingest jsonb := '[]'::jsonb;
  v_observe jsonb := '[]'::jsonb;
  v_audit jsonb := '[]'::jsonb;
  v_fresh jsonb := '[]'::jsonb;
  v_rest jsonb;
  v_claims jsonb := '[]'::jsonb;
BEGIN
  IF b ? 'ingest' THEN
    FOR it IN SELECT value FROM jsonb_array_elements(b->'ingest') WITH ORDINALITY AS e(value, i) ORDER BY i LOOP
      v_ingest := v_ingest || jsonb_build_array(mta_ingest(it, origin));
    END LOOP;
  END IF;
  IF b ? 'observe' THEN
    FOR it IN SELECT value FROM jsonb_array_elements(b->'observe') WITH ORDINALITY AS e(value, i) ORDER BY i LOOP
      v_observe := v_observe || jsonb_build_array(mta_observe(it, origin));
    END LOOP;
  END IF;
  IF b ? 'finish' THEN
    WITH x AS (
      SELECT * FROM jsonb_to_recordset(b->'finish') AS x(ord int, key_caller text, key text, resolution text,
        response jsonb, fingerprint text, created_at bigint, expires_at bigint, at bigint, caller text,
        action text, target text, summary jsonb, outcome text, status int, request_id text)
    ), completed AS (
      UPDATE mta_idempotency k SET state = 'completed', response = x.response
      FROM x WHERE x.resolution = 'complete' AND x.fingerprint IS NULL AND k.caller = x.key_caller
        AND k.key = x.key
    ), written AS (
      -- A key claimed in the proxy's memory only (the embedded store, one process): its record is
      -- first written now, complete. A release or an unknown outcome of such a key writes nothing.
      INSERT INTO mta_idempotency AS k (caller, key, fingerprint, state, response, created_at, expires_at,
                                        lease_until)
      SELECT key_caller, key, fingerprint, 'completed', response, created_at, expires_at, created_at FROM x
      WHERE x.resolution = 'complete' AND x.fingerprint IS NOT NULL ORDER BY ord
      -- (It was claimed because no record existed, and this process is the only writer.)
      ON CONFLICT (caller, key) DO NOTHING
    ), reconciling AS (
      UPDATE mta_idempotency k SET state = 'reconciling'
      FROM x WHERE x.resolution = 'reconcile' AND k.caller = x.key_caller AND k.key = x.key
        AND k.state <> 'completed'
    ), released AS (
      DELETE FROM mta_idempotency k USING x
      WHERE x.resolution = 'release' AND k.caller = x.key_caller AND k.key = x.key AND k.state <> 'completed'
    ), appended AS (
      INSERT INTO mta_audit (at, caller, action, target, summary, outcome, status, request_id)
      SELECT at, caller, action, target, summary, outcome, status, request_id FROM x ORDER BY ord
      RETURNING id
    )
    SELECT coalesce(jsonb_agg(id ORDER BY id), '[]'::jsonb) INTO v_audit FROM appended;
  END IF;
  IF b ? 'claim' THEN
    -- New keys in one set-based statement (the first of each key when one is twice in the batch);
    -- the rest (present already, or repeated) go through mta_claim, which decides each under its lock.
    WITH x AS (
      SELECT * FROM jsonb_to_recordset(b->'claim') AS x(ord int, caller text, key text, fingerprint text,
        participant_code text, account_label text, now bigint, expires_at bigint, lease_until bigint)
    ), first AS (
      SELECT DISTINCT ON (caller, key) * FROM x ORDER BY caller, key, ord
    ), inserted AS (
      INSERT INTO mta_idempotency AS k (caller, key, fingerprint, state, participant_code, account_label,
                                        created_at, expires_at, lease_until)
      SELECT caller, key, fingerprint, 'in_flight', participant_code, account_label, now, expires_at,
             lease_until
      FROM first ORDER BY ord
      ON CONFLICT (caller, key) DO NOTHING
      RETURNING caller, key
    )
    SELECT coalesce(jsonb_agg(f.ord ORDER BY f.ord), '[]'::jsonb) INTO v_fresh
      FROM first f JOIN inserted i ON i.caller = f.caller AND i.key = f.key;
    SELECT jsonb_agg(c ORDER BY (c->>'ord')::int) INTO v_rest
      FROM jsonb_array_elements(b->'claim') c WHERE NOT v_fresh @> (c->'ord');
    IF v_rest IS NOT NULL THEN
      v_claims := mta_claim(v_rest);
    END IF;
  END IF;
  RETURN jsonb_build_object('ingest', v_ingest, 'observe', v_observe, 'finish', v_audit, 'fresh', v_fresh,
                            'claim', v_claims);
END $$;
`
  },
  {
    version: 3,
    name: "reconciliation: confirmations, leases, repairs, liveness",
    sql: `
-- When the upstream last said the status held (a webhook, a read); what the trust window and the
-- background reconciliation go by. Rows from before: their last fact is their confirmation.
ALTER TABLE mta_projection ADD COLUMN confirmed_at bigint;
UPDATE mta_projection SET confirmed_at = updated_at;
ALTER TABLE mta_projection ALTER COLUMN confirmed_at SET NOT NULL;
-- Until when a record claimed for a re-read (or deferred after a failed one) is not due again.
ALTER TABLE mta_projection ADD COLUMN lease_until bigint NOT NULL DEFAULT 0;
CREATE INDEX mta_projection_confirmed ON mta_projection (confirmed_at);
CREATE INDEX mta_projection_provisioning ON mta_projection (confirmed_at) WHERE status IS NULL;

-- Events of repairs: no notification told them.
ALTER TABLE mta_events ADD COLUMN source text NOT NULL DEFAULT 'webhook';
ALTER TABLE mta_events ALTER COLUMN notification_id DROP NOT NULL;

-- When a proxy (any replica) was last alive, and the catch-up mark: records confirmed before it are
-- due, because no proxy was there to receive their webhooks.
CREATE TABLE mta_liveness (
  id integer PRIMARY KEY CHECK (id = 1),
  alive_at bigint,
  catch_up_before bigint
);
INSERT INTO mta_liveness (id) VALUES (1);

-- Appends one event (a webhook's or a repair's) with the next id and announces it; returns the id.
-- The counter row stays locked until commit, so events become visible in id order.
CREATE FUNCTION mta_append_event(e jsonb, origin text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_event bigint;
BEGIN
  UPDATE mta_counters SET value = value + 1 WHERE name = 'event' RETURNING value INTO v_event;
  INSERT INTO mta_events (id, notification_id, zrn, status, occurred_at, received_at, payload, source)
  VALUES (v_event, e->>'notification_id', e->>'zrn', e->>'status', (e->>'occurred_at')::bigint,
          (e->>'received_at')::bigint, e->'payload', e->>'source');
  PERFORM pg_notify('mta_changes', jsonb_build_object('origin', origin, 'event', v_event)::text);
  RETURN v_event;
END $$;

-- One notification: dedupe, order by timestamp; the status already held (not older) is only
-- confirmed (no event: the stream carries changes); another is projected and appended.
CREATE OR REPLACE FUNCTION mta_ingest(n jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_event bigint;
  v_at bigint := (n->>'occurred_at')::bigint;
  v_confirmed bigint := LEAST((n->>'occurred_at')::bigint, (n->>'received_at')::bigint);
  cur mta_projection%ROWTYPE;
BEGIN
  INSERT INTO mta_inbox (notification_id, zrn, status, occurred_at, received_at, participant_code,
                         account_label, payload, outcome)
  VALUES (n->>'notification_id', n->>'zrn', n->>'status', v_at, (n->>'received_at')::bigint,
          n->>'participant_code', n->>'account_label', n->'payload', 'pending')
  ON CONFLICT (notification_id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('outcome', 'duplicate');
  END IF;
  UPDATE mta_projection SET confirmed_at = GREATEST(confirmed_at, v_confirmed)
    WHERE zrn = n->>'zrn' AND status = n->>'status' AND updated_at <= v_at
    RETURNING * INTO cur;
  IF FOUND THEN
    UPDATE mta_inbox SET outcome = 'confirmed' WHERE notification_id = n->>'notification_id';
    RETURN jsonb_build_object('outcome', 'confirmed', 'current', to_jsonb(cur));
  END IF;
  INSERT INTO mta_projection AS p (zrn, status, updated_at, source, confirmed_at)
  VALUES (n->>'zrn', n->>'status', v_at, 'webhook', v_confirmed)
  ON CONFLICT (zrn) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
                                  source = EXCLUDED.source, confirmed_at = EXCLUDED.confirmed_at
    WHERE p.updated_at <= EXCLUDED.updated_at;
  IF NOT FOUND THEN
    UPDATE mta_inbox SET outcome = 'stale' WHERE notification_id = n->>'notification_id';
    SELECT * INTO cur FROM mta_projection WHERE zrn = n->>'zrn';
    RETURN jsonb_build_object('outcome', 'stale', 'current', to_jsonb(cur));
  END IF;
  v_event := mta_append_event(n || '{"source": "webhook"}'::jsonb, origin);
  UPDATE mta_inbox SET outcome = 'applied', event_id = v_event WHERE notification_id = n->>'notification_id';
  RETURN jsonb_build_object('outcome', 'applied', 'id', v_event);
END $$;

-- What the proxy learnt otherwise (its create, a first read): applied when not older and different;
-- the same status is confirmed.
CREATE OR REPLACE FUNCTION mta_observe(o jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_at bigint := (o->>'at')::bigint;
  cur mta_projection%ROWTYPE;
BEGIN
  INSERT INTO mta_projection AS p (zrn, status, updated_at, source, confirmed_at)
  VALUES (o->>'zrn', o->>'status', v_at, o->>'source', v_at)
  ON CONFLICT (zrn) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
                                  source = EXCLUDED.source, confirmed_at = EXCLUDED.confirmed_at
    WHERE p.updated_at <= EXCLUDED.updated_at AND p.status IS DISTINCT FROM EXCLUDED.status
  RETURNING * INTO cur;
  IF FOUND THEN
    PERFORM pg_notify('mta_changes', jsonb_build_object('origin', origin, 'record', to_jsonb(cur))::text);
    RETURN jsonb_build_object('changed', true, 'record', to_jsonb(cur));
  END IF;
  UPDATE mta_projection SET confirmed_at = v_at
    WHERE zrn = o->>'zrn' AND status IS NOT DISTINCT FROM o->>'status' AND confirmed_at < v_at
    RETURNING * INTO cur;
  IF NOT FOUND THEN
    SELECT * INTO cur FROM mta_projection WHERE zrn = o->>'zrn';
  END IF;
  RETURN jsonb_build_object('changed', false, 'record', to_jsonb(cur));
END $$;

-- A read of the account upstream: the status held is confirmed; another, not older than the record,
-- repairs it like a webhook (an event of source 'reconcile' when the account was known and the new
-- status is one); an older one changes nothing. Ends the record's lease.
CREATE FUNCTION mta_reconcile(o jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_zrn text := o->>'zrn';
  v_status text := o->>'status';
  v_at bigint := (o->>'at')::bigint;
  v_event bigint;
  cur mta_projection%ROWTYPE;
BEGIN
  SELECT * INTO cur FROM mta_projection WHERE zrn = v_zrn FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO mta_projection (zrn, status, updated_at, source, confirmed_at)
    VALUES (v_zrn, v_status, v_at, 'reconcile', v_at)
    ON CONFLICT (zrn) DO NOTHING
    RETURNING * INTO cur;
    IF FOUND THEN
      PERFORM pg_notify('mta_changes', jsonb_build_object('origin', origin, 'record', to_jsonb(cur))::text);
      RETURN jsonb_build_object('outcome', 'repaired', 'record', to_jsonb(cur));
    END IF;
    -- Inserted meanwhile by another step: decide against it.
    SELECT * INTO cur FROM mta_projection WHERE zrn = v_zrn FOR UPDATE;
  END IF;
  IF cur.status IS NOT DISTINCT FROM v_status THEN
    UPDATE mta_projection SET confirmed_at = GREATEST(confirmed_at, v_at), lease_until = 0
      WHERE zrn = v_zrn RETURNING * INTO cur;
    RETURN jsonb_build_object('outcome', 'confirmed', 'record', to_jsonb(cur));
  END IF;
  IF v_at < cur.updated_at THEN
    UPDATE mta_projection SET lease_until = 0 WHERE zrn = v_zrn RETURNING * INTO cur;
    RETURN jsonb_build_object('outcome', 'stale', 'record', to_jsonb(cur));
  END IF;
  UPDATE mta_projection SET status = v_status, updated_at = v_at, source = 'reconcile', confirmed_at = v_at,
                            lease_until = 0
    WHERE zrn = v_zrn RETURNING * INTO cur;
  IF v_status IS NULL THEN
    PERFORM pg_notify('mta_changes', jsonb_build_object('origin', origin, 'record', to_jsonb(cur))::text);
    RETURN jsonb_build_object('outcome', 'repaired', 'record', to_jsonb(cur));
  END IF;
  v_event := mta_append_event(jsonb_build_object('notification_id', NULL::text, 'zrn', v_zrn, 'status', v_status,
    'occurred_at', v_at, 'received_at', o->'received_at', 'payload', o->'payload', 'source', 'reconcile'), origin);
  RETURN jsonb_build_object('outcome', 'repaired', 'id', v_event, 'record', to_jsonb(cur));
END $$;

-- Several reads at once (what one pass of the background reconciliation read), in the order given:
-- one call, one transaction, one round trip. Returns one outcome per read.
CREATE FUNCTION mta_reconcile_many(items jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  it jsonb;
  res jsonb := '[]'::jsonb;
BEGIN
  FOR it IN SELECT value FROM jsonb_array_elements(items) WITH ORDINALITY AS e(value, i) ORDER BY i LOOP
    res := res || jsonb_build_array(mta_reconcile(it, origin));
  END LOOP;
  RETURN res;
END $$;

-- Claims records due for a re-read: provisioning ones first, then the others, oldest confirmation
-- first, skipping rows another replica is claiming right now (SKIP LOCKED) and rows under a lease;
-- the lease is what keeps them apart after the claim commits.
CREATE FUNCTION mta_claim_due(q jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := (q->>'now')::bigint;
  v_limit int := (q->>'limit')::int;
  v_zrns text[];
  v_more text[];
  res jsonb;
BEGIN
  SELECT coalesce(array_agg(d.zrn), '{}') INTO v_zrns FROM (
    SELECT zrn FROM mta_projection
    WHERE status IS NULL AND confirmed_at <= (q->>'provisioning_before')::bigint AND lease_until <= v_now
    ORDER BY confirmed_at LIMIT v_limit
    FOR UPDATE SKIP LOCKED
  ) d;
  IF cardinality(v_zrns) < v_limit THEN
    SELECT coalesce(array_agg(d.zrn), '{}') INTO v_more FROM (
      SELECT zrn FROM mta_projection
      WHERE confirmed_at <= (q->>'stale_before')::bigint AND lease_until <= v_now
        AND NOT (zrn = ANY (v_zrns))
      ORDER BY confirmed_at LIMIT v_limit - cardinality(v_zrns)
      FOR UPDATE SKIP LOCKED
    ) d;
    v_zrns := v_zrns || v_more;
  END IF;
  WITH claimed AS (
    UPDATE mta_projection SET lease_until = (q->>'lease_until')::bigint
    WHERE zrn = ANY (v_zrns)
    RETURNING *
  )
  SELECT coalesce(jsonb_agg(to_jsonb(c) ORDER BY c.status IS NOT NULL, c.confirmed_at), '[]'::jsonb)
    INTO res FROM claimed c;
  RETURN res;
END $$;

-- A proxy is alive at v_now. After more than v_downtime with none alive (or none ever), v_now becomes
-- the catch-up mark. Returns the mark.
CREATE FUNCTION mta_alive(v_now bigint, v_downtime bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_alive bigint;
  v_mark bigint;
BEGIN
  SELECT alive_at, catch_up_before INTO v_alive, v_mark FROM mta_liveness WHERE id = 1 FOR UPDATE;
  IF v_alive IS NULL OR v_now - v_alive > v_downtime THEN
    v_mark := GREATEST(coalesce(v_mark, v_now), v_now);
  END IF;
  UPDATE mta_liveness SET alive_at = GREATEST(coalesce(alive_at, v_now), v_now), catch_up_before = v_mark
    WHERE id = 1;
  RETURN v_mark;
END $$;
`
  },
  {
    version: 4,
    name: "webhook content and body dedupe, retention indexes, audit export",
    sql: `
-- Content dedupe (the same account, status and event time under another notification id) and, for a
-- legacy-signed notification, body dedupe (a body seen before). Hashes computed by the proxy.
ALTER TABLE mta_inbox ADD COLUMN content_key text, ADD COLUMN body_sha256 text;
CREATE INDEX mta_inbox_content ON mta_inbox (content_key) WHERE content_key IS NOT NULL;
CREATE INDEX mta_inbox_body ON mta_inbox (body_sha256) WHERE body_sha256 IS NOT NULL;
-- Retention: the inbox is pruned by arrival; a create being resolved keeps its account's entries.
CREATE INDEX mta_inbox_received ON mta_inbox (received_at);
CREATE INDEX mta_idempotency_account ON mta_idempotency (participant_code, account_label)
  WHERE participant_code IS NOT NULL;

-- The dedupe is a check in front of the ingest step, which is kept as it is under another name (so a
-- replacement of mta_ingest by an earlier migration is wrapped, not undone). Same-content and
-- same-body notifications are serialised by a transaction-scoped advisory lock on their hash, so two
-- replicas cannot both take one for new.
ALTER FUNCTION mta_ingest(jsonb, text) RENAME TO mta_ingest_step;
CREATE FUNCTION mta_ingest(n jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  r jsonb;
BEGIN
  IF EXISTS (SELECT 1 FROM mta_inbox WHERE notification_id = n->>'notification_id') THEN
    RETURN jsonb_build_object('outcome', 'duplicate', 'by', 'id');
  END IF;
  IF n->>'content_key' IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(1836345601, hashtext(n->>'content_key'));
    IF EXISTS (SELECT 1 FROM mta_inbox WHERE content_key = n->>'content_key') THEN
      RETURN jsonb_build_object('outcome', 'duplicate', 'by', 'content');
    END IF;
  END IF;
  IF coalesce((n->>'legacy')::boolean, false) AND n->>'body_sha256' IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(1836345602, hashtext(n->>'body_sha256'));
    IF EXISTS (SELECT 1 FROM mta_inbox WHERE body_sha256 = n->>'body_sha256') THEN
      RETURN jsonb_build_object('outcome', 'duplicate', 'by', 'body');
    END IF;
  END IF;
  r := mta_ingest_step(n, origin);
  IF r->>'outcome' = 'duplicate' THEN
    RETURN r || jsonb_build_object('by', 'id');
  END IF;
  UPDATE mta_inbox SET content_key = n->>'content_key', body_sha256 = n->>'body_sha256'
    WHERE notification_id = n->>'notification_id';
  RETURN r;
END $$;

-- The audit log stays append-only, except for the archive export (\`mta-server audit export\`): it
-- deletes the entries it wrote, up to the id it sets in this transaction-local setting.
CREATE OR REPLACE FUNCTION mta_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE'
     AND OLD.id <= coalesce(nullif(current_setting('mta.audit_export_through', true), '')::bigint, 0) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'mta_audit is append-only';
END $$;
`
  },
  {
    version: 5,
    name: "idempotency that always resolves: pending creates re-sent, released creates remembered",
    sql: `
-- production.md §5. A create's record keeps its body (to send it again), when it was first sent (kept
-- when the key is released: 'released'), since when its outcome is unknown, whether a re-send met the
-- duplicate guard (landed) and when it may be re-sent (retry_at: a re-send in flight holds it).
ALTER TABLE mta_idempotency DROP CONSTRAINT mta_idempotency_state_check;
ALTER TABLE mta_idempotency ADD CONSTRAINT mta_idempotency_state_check
  CHECK (state IN ('in_flight', 'completed', 'reconciling', 'released'));
ALTER TABLE mta_idempotency
  ADD COLUMN create_body text,
  ADD COLUMN create_sent_at bigint,
  ADD COLUMN pending_since bigint,
  ADD COLUMN landed boolean NOT NULL DEFAULT false,
  ADD COLUMN retry_at bigint;
-- Creates pending before this version: pending since they were created; without a body they are
-- never re-sent, and get their final answer after the pending limit.
UPDATE mta_idempotency SET pending_since = created_at, create_sent_at = created_at
  WHERE state = 'reconciling';
UPDATE mta_idempotency SET create_sent_at = created_at
  WHERE participant_code IS NOT NULL AND create_sent_at IS NULL;
-- Another key's completed create of the same pair (the claim's "owned elsewhere"), and the resolver's scan.
CREATE INDEX mta_idempotency_pair ON mta_idempotency (participant_code, account_label)
  WHERE participant_code IS NOT NULL;
CREATE INDEX mta_idempotency_pending ON mta_idempotency (retry_at)
  WHERE participant_code IS NOT NULL AND state IN ('reconciling', 'in_flight');

-- Replaces version 1's: the same decision as decideClaim (claim.ts), one table of cases for both.
CREATE OR REPLACE FUNCTION mta_claim(items jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  it jsonb;
  r mta_idempotency%ROWTYPE;
  acc record;
  res jsonb;
  results jsonb := '[]'::jsonb;
  v_now bigint;
  v_limit bigint;
  v_has_acc boolean;
  v_others boolean;
  v_own boolean;
  v_abandoned boolean;
  v_since bigint;
  v_landed boolean;
  v_retry bigint;
BEGIN
  FOR it IN SELECT value FROM jsonb_array_elements(items) WITH ORDINALITY AS e(value, i) ORDER BY i LOOP
    v_now := (it->>'now')::bigint;
    v_limit := coalesce((it->>'pending_limit_ms')::bigint, 90000);
    res := NULL;
    FOR attempt IN 1..3 LOOP
      INSERT INTO mta_idempotency AS k (caller, key, fingerprint, state, participant_code, account_label,
                                        created_at, expires_at, lease_until, create_body, create_sent_at)
      VALUES (it->>'caller', it->>'key', it->>'fingerprint', 'in_flight', it->>'participant_code',
              it->>'account_label', v_now, (it->>'expires_at')::bigint, (it->>'lease_until')::bigint,
              it->>'create_body', CASE WHEN it->>'participant_code' IS NULL THEN NULL ELSE v_now END)
      ON CONFLICT (caller, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, state = 'in_flight',
        response = NULL, participant_code = EXCLUDED.participant_code, account_label = EXCLUDED.account_label,
        created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, lease_until = EXCLUDED.lease_until,
        create_body = EXCLUDED.create_body, create_sent_at = EXCLUDED.create_sent_at, pending_since = NULL,
        landed = false, retry_at = NULL
        WHERE k.expires_at <= EXCLUDED.created_at
           OR (k.state = 'released' AND k.fingerprint <> EXCLUDED.fingerprint);
      IF FOUND THEN
        res := jsonb_build_object('outcome', 'claimed');
        EXIT;
      END IF;
      SELECT * INTO r FROM mta_idempotency WHERE caller = it->>'caller' AND key = it->>'key' FOR UPDATE;
      IF NOT FOUND THEN
        CONTINUE; -- swept between the two statements: claim again
      END IF;
      IF r.fingerprint <> it->>'fingerprint' THEN
        res := jsonb_build_object('outcome', 'mismatch');
      ELSIF r.state = 'completed' THEN
        res := jsonb_build_object('outcome', 'replay', 'response', r.response);
      ELSIF r.state = 'in_flight' AND r.lease_until > v_now THEN
        res := jsonb_build_object('outcome', 'in_flight');
      ELSIF r.state = 'in_flight' AND r.participant_code IS NULL THEN
        UPDATE mta_idempotency SET lease_until = (it->>'lease_until')::bigint
          WHERE caller = r.caller AND key = r.key;
        res := jsonb_build_object('outcome', 'claimed');
      ELSE
        -- What is known about the pair: its first reported account, another key's completed create.
        SELECT zrn, payload, occurred_at INTO acc FROM mta_inbox
          WHERE participant_code = r.participant_code AND account_label = r.account_label
          ORDER BY occurred_at LIMIT 1;
        v_has_acc := FOUND;
        v_others := EXISTS (
          SELECT 1 FROM mta_idempotency o
          WHERE o.participant_code = r.participant_code AND o.account_label = r.account_label
            AND NOT (o.caller = r.caller AND o.key = r.key) AND o.state = 'completed'
            AND (o.response->>'status')::int = 202);
        v_own := NOT (v_others OR (v_has_acc AND r.create_sent_at IS NOT NULL
                                   AND acc.occurred_at < r.create_sent_at - 2000));
        IF r.state = 'released' THEN
          UPDATE mta_idempotency SET state = 'in_flight', lease_until = (it->>'lease_until')::bigint
            WHERE caller = r.caller AND key = r.key;
          res := jsonb_build_object('outcome', 'claimed', 'own_conflict', v_own);
        ELSE
          v_abandoned := r.state = 'in_flight';
          v_since := CASE WHEN v_abandoned THEN v_now ELSE coalesce(r.pending_since, v_now) END;
          v_landed := NOT v_abandoned AND r.landed;
          v_retry := CASE WHEN v_abandoned THEN v_now ELSE coalesce(r.retry_at, v_now) END;
          IF v_abandoned OR r.pending_since IS NULL THEN
            UPDATE mta_idempotency SET state = 'reconciling', pending_since = v_since, retry_at = v_retry,
                                       landed = v_landed
              WHERE caller = r.caller AND key = r.key;
          END IF;
          IF v_has_acc THEN
            IF v_own THEN
              res := jsonb_build_object('outcome', 'reconciling', 'zrn', acc.zrn, 'payload', acc.payload);
            ELSE
              res := jsonb_build_object('outcome', 'conflict');
            END IF;
          ELSIF v_now - v_since >= v_limit THEN
            res := jsonb_build_object('outcome', 'expired', 'landed', v_landed, 'since', v_since);
          ELSIF NOT v_landed AND v_retry <= v_now AND r.create_body IS NOT NULL THEN
            UPDATE mta_idempotency SET retry_at = (it->>'lease_until')::bigint
              WHERE caller = r.caller AND key = r.key;
            res := jsonb_build_object('outcome', 'resend', 'body', r.create_body, 'own_conflict', NOT v_others,
                                      'since', v_since);
          ELSE
            res := jsonb_build_object('outcome', 'pending', 'landed', v_landed, 'since', v_since);
          END IF;
        END IF;
      END IF;
      EXIT;
    END LOOP;
    results := results || jsonb_build_array(res);
  END LOOP;
  RETURN results;
END $$;

-- Around mta_batch (left as it is): before it, the key resolutions it does not know (a create's release
-- keeps its record as 'released'; 'landed'; a pending create's times), rewritten as 'kept', which it
-- ignores; after it, a fresh create claim's body and send time. One call, so one transaction.
CREATE FUNCTION mta_batch_resolving(b jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  it jsonb;
  v_finish jsonb := '[]'::jsonb;
  r jsonb;
BEGIN
  IF b ? 'finish' THEN
    FOR it IN SELECT value FROM jsonb_array_elements(b->'finish') WITH ORDINALITY AS e(value, i) ORDER BY i LOOP
      IF it->>'resolution' = 'release' THEN
        UPDATE mta_idempotency SET state = 'released'
          WHERE caller = it->>'key_caller' AND key = it->>'key' AND participant_code IS NOT NULL
            AND state <> 'completed';
        IF FOUND THEN
          it := jsonb_set(it, '{resolution}', '"kept"');
        END IF;
      ELSIF it->>'resolution' = 'reconcile' THEN
        UPDATE mta_idempotency SET
          pending_since = CASE WHEN state = 'reconciling' THEN coalesce(pending_since, (it->>'resolution_at')::bigint)
                               ELSE (it->>'resolution_at')::bigint END,
          retry_at = coalesce((it->>'retry_at')::bigint, retry_at),
          landed = CASE WHEN state = 'reconciling' THEN landed ELSE false END
          WHERE caller = it->>'key_caller' AND key = it->>'key' AND state <> 'completed';
      ELSIF it->>'resolution' = 'landed' THEN
        UPDATE mta_idempotency SET
          pending_since = CASE WHEN state = 'reconciling' THEN coalesce(pending_since, (it->>'resolution_at')::bigint)
                               ELSE (it->>'resolution_at')::bigint END,
          state = 'reconciling', landed = true
          WHERE caller = it->>'key_caller' AND key = it->>'key' AND state <> 'completed';
        it := jsonb_set(it, '{resolution}', '"kept"');
      END IF;
      v_finish := v_finish || jsonb_build_array(it);
    END LOOP;
    b := jsonb_set(b, '{finish}', v_finish);
  END IF;
  r := mta_batch(b, origin);
  IF b ? 'claim' THEN
    UPDATE mta_idempotency k SET create_body = x.create_body, create_sent_at = x.now
      FROM jsonb_to_recordset(b->'claim') AS x(ord int, caller text, key text, create_body text, now bigint)
      WHERE (r->'fresh') @> to_jsonb(x.ord) AND x.create_body IS NOT NULL
        AND k.caller = x.caller AND k.key = x.key;
  END IF;
  RETURN r;
END $$;
`
  },
  {
    version: 6,
    name: "shared vendor budget: leased blocks of slots",
    sql: `
-- The vendor's budget shared by every replica (production.md §6). A replica leases a block of slots
-- (a grant) and spends it locally; a grant counts in every rolling window that its calls may have
-- reached the upstream in: from its grant to its end. Until the replica reports it finished, its end
-- is the latest moment one of its calls may still arrive (granted_at + the hold the replica asked
-- for); the report sets the slots actually used and the moment of the last answer (or deletes a grant
-- none of whose slots was used). Rows whose end is a window old count no more and are deleted.
-- Times are this server's clock (epoch ms), so the replicas' clocks need not agree.
CREATE TABLE mta_budget_grants (
  id bigserial PRIMARY KEY,
  caller text NOT NULL,
  slots integer NOT NULL,
  granted_at bigint NOT NULL,
  ends_at bigint NOT NULL
);

-- Finishes the grants in p_finish ([{id, used, ago}]: slots used, ms since the last answer when the
-- report was sent), then grants up to p_want slots to p_caller if the window's total stays within
-- p_limit and the caller's within p_cap. Near the limit the block shrinks (a quarter of the room, at
-- least 1), so a replica does not sit on slots another one needs. Serialised by an advisory lock.
-- Answers {id, granted, wait, reason}: when nothing is granted, the ms until a counted grant leaves
-- the window, and whether the budget ("budget") or the caller's share ("share") is spent.
CREATE FUNCTION mta_budget_lease(p_caller text, p_want integer, p_limit integer, p_cap integer,
                                 p_window bigint, p_hold bigint, p_finish jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  v_total bigint;
  v_own bigint;
  v_room bigint;
  v_grant integer := 0;
  v_id bigint;
  v_wait bigint;
  v_reason text;
BEGIN
  PERFORM pg_advisory_xact_lock(1836343906);
  IF p_finish IS NOT NULL AND jsonb_typeof(p_finish) = 'array' AND jsonb_array_length(p_finish) > 0 THEN
    WITH f AS (SELECT * FROM jsonb_to_recordset(p_finish) AS f(id bigint, used integer, ago bigint))
    DELETE FROM mta_budget_grants g USING f WHERE g.id = f.id AND coalesce(f.used, 1) <= 0;
    -- A report can only shrink a grant: fewer slots, an earlier end.
    WITH f AS (SELECT * FROM jsonb_to_recordset(p_finish) AS f(id bigint, used integer, ago bigint))
    UPDATE mta_budget_grants g
       SET slots = least(g.slots, f.used), ends_at = least(g.ends_at, v_now - greatest(coalesce(f.ago, 0), 0))
      FROM f WHERE g.id = f.id AND f.used > 0;
  END IF;
  DELETE FROM mta_budget_grants WHERE ends_at <= v_now - p_window;
  IF p_want > 0 THEN
    SELECT coalesce(sum(slots), 0), coalesce(sum(slots) FILTER (WHERE caller = p_caller), 0)
      INTO v_total, v_own FROM mta_budget_grants;
    v_room := least(p_limit - v_total, p_cap - v_own);
    IF v_room > 0 THEN
      v_grant := least(p_want, v_room, greatest(1, v_room / 4));
      INSERT INTO mta_budget_grants (caller, slots, granted_at, ends_at)
        VALUES (p_caller, v_grant, v_now, v_now + p_hold) RETURNING id INTO v_id;
    ELSIF p_limit - v_total <= 0 THEN
      v_reason := 'budget';
      SELECT min(ends_at) + p_window - v_now INTO v_wait FROM mta_budget_grants;
    ELSE
      v_reason := 'share';
      SELECT min(ends_at) + p_window - v_now INTO v_wait FROM mta_budget_grants WHERE caller = p_caller;
    END IF;
  END IF;
  RETURN jsonb_build_object('id', v_id, 'granted', v_grant, 'wait', greatest(coalesce(v_wait, 1), 1),
                            'reason', v_reason);
END $$;
`
  },
  {
    version: 7,
    name: "participant projection: participant_status_changed in the inbox, the projection and the event log",
    sql: `
-- Participant notifications share the inbox (one notification-id namespace, the same content and body
-- dedupe) and the event log (one sequence of ids); they have no account, so zrn may be NULL there.
-- mta_inbox.participant_code stays the create-identity column of account notifications: the subject
-- of a participant notification goes in its own column.
ALTER TABLE mta_inbox ALTER COLUMN zrn DROP NOT NULL;
ALTER TABLE mta_inbox ADD COLUMN participant text;
ALTER TABLE mta_events ALTER COLUMN zrn DROP NOT NULL;
ALTER TABLE mta_events
  ADD COLUMN type text NOT NULL DEFAULT 'customer_account_status_changed',
  ADD COLUMN participant_code text,
  ADD COLUMN reason_code text;
CREATE INDEX mta_events_participant ON mta_events (participant_code, id) WHERE participant_code IS NOT NULL;

CREATE TABLE mta_participants (
  participant_code text PRIMARY KEY,
  status text NOT NULL,
  reason_code text,
  updated_at bigint NOT NULL,
  source text NOT NULL,
  confirmed_at bigint NOT NULL,
  lease_until bigint NOT NULL DEFAULT 0
);
CREATE INDEX mta_participants_confirmed ON mta_participants (confirmed_at);

-- Appends one participant event with the next id (the counter row stays locked until commit).
CREATE FUNCTION mta_append_participant_event(e jsonb, origin text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_event bigint;
BEGIN
  UPDATE mta_counters SET value = value + 1 WHERE name = 'event' RETURNING value INTO v_event;
  INSERT INTO mta_events (id, type, notification_id, zrn, participant_code, status, reason_code, occurred_at,
                          received_at, payload, source)
  VALUES (v_event, 'participant_status_changed', e->>'notification_id', NULL, e->>'participant_code',
          e->>'status', e->>'reason_code', (e->>'occurred_at')::bigint, (e->>'received_at')::bigint,
          e->'payload', e->>'source');
  PERFORM pg_notify('mta_changes', jsonb_build_object('origin', origin, 'event', v_event)::text);
  RETURN v_event;
END $$;

-- One participant notification, by the rules of mta_ingest: dedupe by id, content and (legacy) body;
-- older than the record: kept, not applied; the status and reason held: confirmed; else applied.
CREATE FUNCTION mta_ingest_participant(n jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_code text := n->>'participant_code';
  v_at bigint := (n->>'occurred_at')::bigint;
  v_confirmed bigint := LEAST((n->>'occurred_at')::bigint, (n->>'received_at')::bigint);
  v_event bigint;
  cur mta_participants%ROWTYPE;
BEGIN
  IF EXISTS (SELECT 1 FROM mta_inbox WHERE notification_id = n->>'notification_id') THEN
    RETURN jsonb_build_object('outcome', 'duplicate', 'by', 'id');
  END IF;
  PERFORM pg_advisory_xact_lock(1836345601, hashtext(n->>'content_key'));
  IF EXISTS (SELECT 1 FROM mta_inbox WHERE content_key = n->>'content_key') THEN
    RETURN jsonb_build_object('outcome', 'duplicate', 'by', 'content');
  END IF;
  IF coalesce((n->>'legacy')::boolean, false) AND n->>'body_sha256' IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(1836345602, hashtext(n->>'body_sha256'));
    IF EXISTS (SELECT 1 FROM mta_inbox WHERE body_sha256 = n->>'body_sha256') THEN
      RETURN jsonb_build_object('outcome', 'duplicate', 'by', 'body');
    END IF;
  END IF;
  INSERT INTO mta_inbox (notification_id, zrn, participant, status, occurred_at, received_at, payload, outcome,
                         content_key, body_sha256)
  VALUES (n->>'notification_id', NULL, v_code, n->>'status', v_at, (n->>'received_at')::bigint, n->'payload',
          'pending', n->>'content_key', n->>'body_sha256')
  ON CONFLICT (notification_id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('outcome', 'duplicate', 'by', 'id');
  END IF;
  SELECT * INTO cur FROM mta_participants WHERE participant_code = v_code FOR UPDATE;
  IF FOUND AND v_at < cur.updated_at THEN
    UPDATE mta_inbox SET outcome = 'stale' WHERE notification_id = n->>'notification_id';
    RETURN jsonb_build_object('outcome', 'stale', 'current', to_jsonb(cur));
  END IF;
  IF FOUND AND cur.status = n->>'status' AND cur.reason_code IS NOT DISTINCT FROM n->>'reason_code' THEN
    UPDATE mta_participants SET confirmed_at = GREATEST(confirmed_at, v_confirmed)
      WHERE participant_code = v_code RETURNING * INTO cur;
    UPDATE mta_inbox SET outcome = 'confirmed' WHERE notification_id = n->>'notification_id';
    RETURN jsonb_build_object('outcome', 'confirmed', 'current', to_jsonb(cur));
  END IF;
  INSERT INTO mta_participants AS p (participant_code, status, reason_code, updated_at, source, confirmed_at)
  VALUES (v_code, n->>'status', n->>'reason_code', v_at, 'webhook', v_confirmed)
  ON CONFLICT (participant_code) DO UPDATE SET status = EXCLUDED.status, reason_code = EXCLUDED.reason_code,
    updated_at = EXCLUDED.updated_at, source = EXCLUDED.source, confirmed_at = EXCLUDED.confirmed_at
    WHERE p.updated_at <= EXCLUDED.updated_at
  RETURNING * INTO cur;
  IF NOT FOUND THEN
    UPDATE mta_inbox SET outcome = 'stale' WHERE notification_id = n->>'notification_id';
    SELECT * INTO cur FROM mta_participants WHERE participant_code = v_code;
    RETURN jsonb_build_object('outcome', 'stale', 'current', to_jsonb(cur));
  END IF;
  v_event := mta_append_participant_event(n || '{"source": "webhook"}'::jsonb, origin);
  UPDATE mta_inbox SET outcome = 'applied', event_id = v_event WHERE notification_id = n->>'notification_id';
  RETURN jsonb_build_object('outcome', 'applied', 'id', v_event, 'current', to_jsonb(cur));
END $$;

CREATE FUNCTION mta_ingest_participants(items jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  it jsonb;
  res jsonb := '[]'::jsonb;
BEGIN
  FOR it IN SELECT value FROM jsonb_array_elements(items) WITH ORDINALITY AS e(value, i) ORDER BY i LOOP
    res := res || jsonb_build_array(mta_ingest_participant(it, origin));
  END LOOP;
  RETURN res;
END $$;

-- A read of a participant upstream: a first sighting is recorded without an event; another status or
-- reason, not older, is repaired with an event of source reconcile; the one held is confirmed.
CREATE FUNCTION mta_reconcile_participant(o jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_code text := o->>'participant_code';
  v_at bigint := (o->>'at')::bigint;
  v_event bigint;
  cur mta_participants%ROWTYPE;
BEGIN
  SELECT * INTO cur FROM mta_participants WHERE participant_code = v_code FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO mta_participants (participant_code, status, reason_code, updated_at, source, confirmed_at)
    VALUES (v_code, o->>'status', o->>'reason_code', v_at, o->>'source', v_at)
    ON CONFLICT (participant_code) DO NOTHING
    RETURNING * INTO cur;
    IF FOUND THEN
      PERFORM pg_notify('mta_changes', jsonb_build_object('origin', origin, 'participant', to_jsonb(cur))::text);
      RETURN jsonb_build_object('outcome', 'repaired', 'record', to_jsonb(cur));
    END IF;
    SELECT * INTO cur FROM mta_participants WHERE participant_code = v_code FOR UPDATE;
  END IF;
  IF cur.status = o->>'status' AND cur.reason_code IS NOT DISTINCT FROM o->>'reason_code' THEN
    UPDATE mta_participants SET confirmed_at = GREATEST(confirmed_at, v_at), lease_until = 0
      WHERE participant_code = v_code RETURNING * INTO cur;
    RETURN jsonb_build_object('outcome', 'confirmed', 'record', to_jsonb(cur));
  END IF;
  IF v_at < cur.updated_at THEN
    UPDATE mta_participants SET lease_until = 0 WHERE participant_code = v_code RETURNING * INTO cur;
    RETURN jsonb_build_object('outcome', 'stale', 'record', to_jsonb(cur));
  END IF;
  UPDATE mta_participants SET status = o->>'status', reason_code = o->>'reason_code', updated_at = v_at,
                              source = 'reconcile', confirmed_at = v_at, lease_until = 0
    WHERE participant_code = v_code RETURNING * INTO cur;
  v_event := mta_append_participant_event(jsonb_build_object('notification_id', NULL::text,
    'participant_code', v_code, 'status', o->>'status', 'reason_code', o->>'reason_code', 'occurred_at', v_at,
    'received_at', o->'received_at', 'payload', o->'payload', 'source', 'reconcile'), origin);
  RETURN jsonb_build_object('outcome', 'repaired', 'id', v_event, 'record', to_jsonb(cur));
END $$;

CREATE FUNCTION mta_reconcile_participants(items jsonb, origin text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  it jsonb;
  res jsonb := '[]'::jsonb;
BEGIN
  FOR it IN SELECT value FROM jsonb_array_elements(items) WITH ORDINALITY AS e(value, i) ORDER BY i LOOP
    res := res || jsonb_build_array(mta_reconcile_participant(it, origin));
  END LOOP;
  RETURN res;
END $$;
`
  }
]
