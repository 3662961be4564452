CREATE TABLE `activations` (
	`id` integer PRIMARY KEY NOT NULL,
	`row_id` integer NOT NULL,
	`object_type` text NOT NULL,
	`object_id` text NOT NULL,
	`kind` text NOT NULL,
	`at` text NOT NULL,
	`status` text NOT NULL,
	`created_at` text NOT NULL,
	`settled_at` text,
	`late` integer
);
--> statement-breakpoint
CREATE INDEX `activations_pending_idx` ON `activations` (`at`,`id`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `activations_row_idx` ON `activations` (`row_id`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `activations_at_idx` ON `activations` (`at`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`type` text NOT NULL,
	`object_type` text NOT NULL,
	`object_id` text NOT NULL,
	`registreringstid` text NOT NULL,
	`virkning_fra` text,
	`virkning_til` text,
	`event_id` text,
	`row_id` integer,
	`at` text,
	`late` integer,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `outbox_cursors` (
	`publisher` text PRIMARY KEY NOT NULL,
	`delivered_seq` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`updated_at` text NOT NULL
);
