-- SQL for analysts: views and functions over "rows", in a schema of their own ("analyst"), so that
-- what is meant for people to query is apart from the engine's tables, one GRANT covers it, and a
-- later migration may replace it whole. README.md "SQL for analysts (PostgreSQL)" documents them.
-- Instants are the store's canonical text (YYYY-MM-DDTHH:MM:SS.ffffffZ, compared byte for byte),
-- NULL an open end; "data" is the canonical JSON text and "data_json" the same as jsonb.
-- The functions are LANGUAGE sql STABLE, a single SELECT, neither STRICT nor SECURITY DEFINER, so the
-- planner inlines them: a caller's WHERE object_type = … AND object_id = … reaches rows_object_idx.
CREATE SCHEMA analyst;--> statement-breakpoint
REVOKE ALL ON SCHEMA analyst FROM PUBLIC;--> statement-breakpoint
-- Every row the register ever held (the columns of "rows", and data as jsonb).
CREATE VIEW analyst.all_rows AS
  SELECT id, object_type, object_id, registrering_fra, registrering_til, virkning_fra, virkning_til,
         data, data::jsonb AS data_json, event_id, stored_at, closed_at, mirrored
  FROM public.rows;--> statement-breakpoint
-- The current registrations: what the register says now, every virkning period of every object.
CREATE VIEW analyst.current_rows AS
  SELECT * FROM analyst.all_rows WHERE registrering_til IS NULL;--> statement-breakpoint
-- A timestamptz as the store's canonical text: UTC with microseconds, whatever the session's TimeZone.
CREATE FUNCTION analyst.instant(at timestamptz)
  RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') COLLATE "C" $$;--> statement-breakpoint
-- For each object, the row in force at (registreringstid, virkningstid): registrering_fra <= r <
-- registrering_til and virkning_fra <= v < virkning_til (NULL open); of several, the latest
-- registrering_fra, then the highest id (the rule of Store.asOf). Objects with none are absent.
CREATE FUNCTION analyst.rows_as_of(registreringstid text, virkningstid text)
  RETURNS SETOF analyst.all_rows
  LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT DISTINCT ON (object_type, object_id) *
  FROM analyst.all_rows
  WHERE registrering_fra <= registreringstid AND (registrering_til IS NULL OR registrering_til > registreringstid)
    AND (virkning_fra IS NULL OR virkning_fra <= virkningstid) AND (virkning_til IS NULL OR virkning_til > virkningstid)
  ORDER BY object_type, object_id, registrering_fra DESC, id DESC
$$;--> statement-breakpoint
-- The same at two timestamptz (rows_as_of(now(), now())).
CREATE FUNCTION analyst.rows_as_of(registreringstid timestamptz, virkningstid timestamptz)
  RETURNS SETOF analyst.all_rows
  LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT * FROM analyst.rows_as_of(analyst.instant(registreringstid), analyst.instant(virkningstid)) $$;--> statement-breakpoint
-- Every row of one object, in the order of Store.history.
CREATE FUNCTION analyst.object_history(object_type text, object_id text)
  RETURNS SETOF analyst.all_rows
  LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT * FROM analyst.all_rows r
  WHERE r.object_type = object_history.object_type AND r.object_id = object_history.object_id
  ORDER BY r.registrering_fra, r.virkning_fra NULLS FIRST, r.id
$$;--> statement-breakpoint
-- What changed in [since, until), as Store.changes (GET /v1/changes) tells it, ordered by the instant of
-- the change, then id: each row registered in the window (as it stood at "until": a close after the
-- window is not shown, so registrering_til is NULL) and each row closed in it; a row both registered
-- and closed in the window appears once, as closed. The same window always gives the same answer.
CREATE TYPE analyst.row_change AS (
  change text COLLATE "C", change_at text COLLATE "C", id bigint, object_type text COLLATE "C", object_id text COLLATE "C",
  registrering_fra text COLLATE "C", registrering_til text COLLATE "C", virkning_fra text COLLATE "C",
  virkning_til text COLLATE "C", data text COLLATE "C", data_json jsonb, event_id text COLLATE "C",
  stored_at text COLLATE "C", closed_at text COLLATE "C", mirrored boolean);--> statement-breakpoint
CREATE FUNCTION analyst.changes_between(since text, until text)
  RETURNS SETOF analyst.row_change
  LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT * FROM (
    SELECT 'registered', r.registrering_fra, r.id, r.object_type, r.object_id, r.registrering_fra, NULL::text,
           r.virkning_fra, r.virkning_til, r.data, r.data_json, r.event_id, r.stored_at, NULL::text, r.mirrored
    FROM analyst.all_rows r
    WHERE r.registrering_fra >= since AND r.registrering_fra < until
      AND (r.registrering_til IS NULL OR r.registrering_til >= until)
    UNION ALL
    SELECT 'closed', r.registrering_til, r.*
    FROM analyst.all_rows r
    WHERE r.registrering_til >= since AND r.registrering_til < until
  ) AS c(change, change_at)
  ORDER BY 2, 3
$$;--> statement-breakpoint
CREATE FUNCTION analyst.changes_between(since timestamptz, until timestamptz)
  RETURNS SETOF analyst.row_change
  LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT * FROM analyst.changes_between(analyst.instant(since), analyst.instant(until)) $$;--> statement-breakpoint
-- Functions are executable by PUBLIC unless revoked: only the owner and those granted may call these.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA analyst FROM PUBLIC;
