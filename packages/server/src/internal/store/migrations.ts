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
  }
]
