CREATE TABLE `push_inbox` (
	`id` integer PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`envelope_id` text NOT NULL,
	`received_at` text NOT NULL,
	`body` text NOT NULL,
	`processed_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `push_inbox_envelope_idx` ON `push_inbox` (`source`,`envelope_id`);--> statement-breakpoint
CREATE INDEX `push_inbox_pending_idx` ON `push_inbox` (`source`,`id`) WHERE processed_at IS NULL;