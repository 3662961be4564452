-- Custom migration (drizzle-kit generate --custom): the per-object head is
-- read and written once per operation; WITHOUT ROWID keeps it in one b-tree
-- keyed by (object_type, object_id) instead of a table plus an index.
CREATE TABLE `objects_new` (
	`object_type` text NOT NULL,
	`object_id` text NOT NULL,
	`latest_registrering` text NOT NULL,
	PRIMARY KEY(`object_type`, `object_id`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `objects_new` (`object_type`, `object_id`, `latest_registrering`) SELECT `object_type`, `object_id`, `latest_registrering` FROM `objects`;
--> statement-breakpoint
DROP TABLE `objects`;
--> statement-breakpoint
ALTER TABLE `objects_new` RENAME TO `objects`;
