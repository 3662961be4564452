CREATE TABLE `source_cursors` (
	`source` text PRIMARY KEY NOT NULL,
	`cursor` text NOT NULL,
	`updated_at` text NOT NULL
);
