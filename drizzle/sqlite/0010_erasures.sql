CREATE TABLE `erasure_salt` (
	`id` integer PRIMARY KEY NOT NULL,
	`salt` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `erasures` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`erased_at` text NOT NULL,
	`erased_by` text NOT NULL,
	`reason` text NOT NULL,
	`object_type` text NOT NULL,
	`key_hash` text NOT NULL,
	`pseudonym` text NOT NULL,
	`allow_new` integer NOT NULL,
	`lifted_at` text,
	`touched` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `erasures_key_idx` ON `erasures` (`key_hash`,`id`);