CREATE TABLE `cluster_singletons` (
	`name` text PRIMARY KEY NOT NULL,
	`first_competed_at` text NOT NULL
);
