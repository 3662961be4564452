-- The database itself forbids what the planner must never produce: two current rows
-- (registrering_til IS NULL) of one object whose virkning periods overlap. Instants are canonical
-- text compared byte for byte, so the period is a range over text in collation "C"; a NULL bound is
-- an open end (an unbounded range side), as everywhere in the store. Deferred to commit, so a unit
-- of work may insert the successor before it closes the predecessor.
CREATE EXTENSION IF NOT EXISTS btree_gist;--> statement-breakpoint
CREATE TYPE "instant_range" AS RANGE (subtype = text, collation = "C");--> statement-breakpoint
ALTER TABLE "rows" ADD CONSTRAINT "rows_current_virkning_excl"
  EXCLUDE USING gist ("object_type" WITH =, "object_id" WITH =, instant_range("virkning_fra", "virkning_til", '[)') WITH &&)
  WHERE ("registrering_til" IS NULL)
  DEFERRABLE INITIALLY DEFERRED;
