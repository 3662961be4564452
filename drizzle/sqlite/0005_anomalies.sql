CREATE TABLE `anomalies` (
	`id` integer PRIMARY KEY NOT NULL,
	`detected_at` text NOT NULL,
	`source` text NOT NULL,
	`object_type` text NOT NULL,
	`object_id` text NOT NULL,
	`kind` text NOT NULL,
	`detail` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `anomalies_object_idx` ON `anomalies` (`object_type`,`object_id`);