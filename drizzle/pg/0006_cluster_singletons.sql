CREATE TABLE "cluster_singletons" (
	"name" text COLLATE "C" PRIMARY KEY NOT NULL,
	"first_competed_at" text COLLATE "C" NOT NULL
);
