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
  }
]
