/**
 * The advisory locks that name skygge's singletons on PostgreSQL (cluster/Leadership.ts takes them; the
 * cluster view reads who holds them): the two-key form (classid, objid) = (SKYGGE_CLASSID, hashtext(name)),
 * which pg_locks shows with objsubid 2, in the current database (advisory locks are per database).
 */

/** The advisory locks' first key: "skyg" (0x736b7967). The second is hashtext(name). */
export const SKYGGE_CLASSID = 1_936_423_271

/** The condition on `pg_locks l` that picks the granted lock of the singleton named by the SQL expression `name`. */
export const singletonLockOn = (name: string) =>
  `l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = ${SKYGGE_CLASSID}::int4::oid AND l.objid = hashtext(${name})::oid AND l.objsubid = 2`
