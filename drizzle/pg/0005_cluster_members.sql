CREATE TABLE "cluster_members" (
	"id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"name" text COLLATE "C" NOT NULL,
	"host" text COLLATE "C" NOT NULL,
	"pid" integer NOT NULL,
	"started_at" text COLLATE "C" NOT NULL,
	"heartbeat_at" text COLLATE "C" NOT NULL
);
--> statement-breakpoint
ALTER TABLE "work_items" ADD COLUMN "claimed_by" text COLLATE "C";