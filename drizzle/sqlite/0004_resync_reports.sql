CREATE TABLE `resync_reports` (
	`id` integer PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`resource` text NOT NULL,
	`object_type` text NOT NULL,
	`started_at` text NOT NULL,
	`finished_at` text NOT NULL,
	`dry_run` integer NOT NULL,
	`checked` integer NOT NULL,
	`missing` integer NOT NULL,
	`changed` integer NOT NULL,
	`extra` integer NOT NULL,
	`repaired` integer NOT NULL,
	`revived` integer NOT NULL,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `resync_reports_source_idx` ON `resync_reports` (`source`,`id`);