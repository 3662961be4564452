ALTER TABLE "rows" ADD COLUMN "mirrored" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- The exclusion constraint guards the planner (operations), not an upstream's own history: a
-- mirrored register may hold two current rows that overlap (recorded as an anomaly, stored as it has them).
ALTER TABLE "rows" DROP CONSTRAINT "rows_current_virkning_excl";--> statement-breakpoint
ALTER TABLE "rows" ADD CONSTRAINT "rows_current_virkning_excl"
  EXCLUDE USING gist ("object_type" WITH =, "object_id" WITH =, instant_range("virkning_fra", "virkning_til", '[)') WITH &&)
  WHERE ("registrering_til" IS NULL AND NOT "mirrored")
  DEFERRABLE INITIALLY DEFERRED;
