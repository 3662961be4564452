/**
 * `retention.*`: how long personal data is kept (issue 18).
 *
 * - `closedDays`: per object type, `TYPE=DAYS` (`*=DAYS` for every other type): registrations closed
 *   (`registreringTil`) more than DAYS ago are pruned. A type not named (and no `*`) is kept forever.
 * - `refusedDays`: the raw input text of refused inputs is cleared after this many days (the reason stays).
 * - `inboxDays`: the bodies of processed PUSH inbox entries are cleared after this many days (the envelope
 *   id stays for dedup until `push.dedupHours` removes the entry).
 * - `cron`: when the engine prunes (the cluster singleton `retention`), in UTC; default daily at 03:17.
 *
 * A list of `TYPE=DAYS` strings rather than objects, so that it is one key the environment can override
 * like any other list (`SKYGGE_RETENTION_CLOSED_DAYS=fs.person=3650,*=730`).
 */
import { Config, Either, Option } from "effect"
import { Cron } from "effect"

const DAYS = /^(.+)=([0-9]+(?:\.[0-9]+)?)$/

/** `TYPE=DAYS` entries, each checked. */
export const parseClosedDays = (entries: ReadonlyArray<string>): ReadonlyMap<string, number> | string => {
  const byType = new Map<string, number>()
  for (const entry of entries) {
    const m = DAYS.exec(entry.trim())
    if (m === null) return `'${entry}' is not TYPE=DAYS (e.g. fs.person=3650, or *=730 for every other type)`
    const days = Number(m[2])
    if (!(days > 0)) return `'${entry}': days must be positive`
    if (byType.has(m[1]!)) return `'${m[1]}' is given twice`
    byType.set(m[1]!, days)
  }
  return byType
}

const optionalDays = (name: string) =>
  Config.option(Config.number(name)).pipe(Config.validate({ message: "must be a positive number of days", validation: (d) => Option.isNone(d) || d.value > 0 }))

export const RetentionConfig = Config.all({
  closedDays: Config.array(Config.string(), "closedDays").pipe(
    Config.withDefault([] as ReadonlyArray<string>),
    Config.validate({ message: "must be TYPE=DAYS entries (e.g. fs.person=3650, *=730), each type once, days positive", validation: (list) => typeof parseClosedDays(list) !== "string" })
  ),
  refusedDays: optionalDays("refusedDays"),
  inboxDays: optionalDays("inboxDays"),
  cron: Config.string("cron").pipe(
    Config.withDefault("17 3 * * *"),
    Config.validate({ message: "must be a cron expression (minute hour day month weekday)", validation: (c) => Either.isRight(Cron.parse(c)) })
  )
}).pipe(Config.nested("retention"))
export type RetentionConfig = Config.Config.Success<typeof RetentionConfig>

/** The days a type's closed registrations are kept: its own entry, else `*`, else forever (undefined). */
export const closedDaysOf = (byType: ReadonlyMap<string, number>, objectType: string): number | undefined => byType.get(objectType) ?? byType.get("*")
