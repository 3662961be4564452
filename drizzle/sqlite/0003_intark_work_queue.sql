CREATE TABLE `seen_messages` (
	`source` text NOT NULL,
	`message_id` text NOT NULL,
	`received_at` text NOT NULL,
	PRIMARY KEY(`source`, `message_id`)
);
--> statement-breakpoint
CREATE INDEX `seen_messages_received_idx` ON `seen_messages` (`received_at`);--> statement-breakpoint
CREATE TABLE `work_items` (
	`source` text NOT NULL,
	`resource` text NOT NULL,
	`object_id` text NOT NULL,
	`location` text,
	`operation` text NOT NULL,
	`hints` integer NOT NULL,
	`first_hint_at` text NOT NULL,
	`last_hint_at` text NOT NULL,
	`issued_at` text,
	`valid_from` text,
	`state` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` text NOT NULL,
	`last_error` text,
	`dirty` integer DEFAULT false NOT NULL,
	`confirming` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`source`, `resource`, `object_id`)
);
--> statement-breakpoint
CREATE INDEX `work_items_due_idx` ON `work_items` (`source`,`state`,`next_attempt_at`);