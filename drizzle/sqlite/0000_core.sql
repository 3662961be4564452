CREATE TABLE `events` (
	`seq` integer PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL,
	`object_type` text NOT NULL,
	`object_id` text NOT NULL,
	`registreringstid` text NOT NULL,
	`operation` text NOT NULL,
	`outcome` text NOT NULL,
	`source` text NOT NULL,
	`received_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_event_id_idx` ON `events` (`event_id`);--> statement-breakpoint
CREATE TABLE `objects` (
	`object_type` text NOT NULL,
	`object_id` text NOT NULL,
	`latest_registrering` text NOT NULL,
	PRIMARY KEY(`object_type`, `object_id`)
);
--> statement-breakpoint
CREATE TABLE `refused` (
	`id` integer PRIMARY KEY NOT NULL,
	`received_at` text NOT NULL,
	`source` text NOT NULL,
	`line` integer,
	`event_id` text,
	`object_type` text,
	`object_id` text,
	`field` text,
	`reason` text NOT NULL,
	`input` text
);
--> statement-breakpoint
CREATE TABLE `rows` (
	`id` integer PRIMARY KEY NOT NULL,
	`object_type` text NOT NULL,
	`object_id` text NOT NULL,
	`registrering_fra` text NOT NULL,
	`registrering_til` text,
	`virkning_fra` text,
	`virkning_til` text,
	`data` text NOT NULL,
	`event_id` text NOT NULL,
	`stored_at` text NOT NULL,
	`closed_at` text
);
--> statement-breakpoint
CREATE INDEX `rows_object_idx` ON `rows` (`object_type`,`object_id`,`registrering_til`);--> statement-breakpoint
CREATE INDEX `rows_registered_idx` ON `rows` (`registrering_fra`);--> statement-breakpoint
CREATE INDEX `rows_closed_idx` ON `rows` (`registrering_til`) WHERE registrering_til IS NOT NULL;