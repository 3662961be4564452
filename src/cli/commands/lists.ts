/** Lists kept beside the rows: `refused` inputs, `activations`, mirror `anomalies`, and where the `sources` stand. */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { sourcesStatus } from "../../store/SourcesStatusView.js"
import { readClusterView } from "../../cluster/ClusterStatus.js"
import { ActivationStore } from "../../store/Activations.js"
import { MirrorStore } from "../../store/Mirror.js"
import { Store } from "../../store/Store.js"
import { checkLimit, configOption, instantOr, jsonOption, limitOption, nothing, ofType, println, typeOption, withReadStore } from "../common.js"
import { refusedLine } from "../format.js"

const afterOption = (what: string) => Options.integer("after").pipe(Options.withDescription(`start after this ${what} id`), Options.withDefault(0))

const after = (id: number) => (id > 0 ? ` after id ${id}` : "")
const ofTypeText = (objectType: Option.Option<string>) => Option.match(objectType, { onNone: () => "", onSome: (t) => ` of type ${t}` })

export const refused = Command.make("refused", { config: configOption, json: jsonOption, after: afterOption("refusal"), limit: limitOption(100) }, (o) =>
  withReadStore(
    o.config,
    Effect.gen(function* () {
      const store = yield* Store
      const list = yield* store.refused(o.after, yield* checkLimit(o.limit, true))
      for (const r of list) yield* println(o.json ? JSON.stringify(r) : refusedLine(r))
      yield* nothing(o.json, list, `no refused inputs${after(o.after)}`)
    })
  )
).pipe(Command.withDescription("Refused inputs with their reasons, oldest first"))

export const activations = Command.make(
  "activations",
  {
    config: configOption,
    json: jsonOption,
    from: Options.text("from").pipe(Options.withDescription("at or after this instant (ISO 8601; default: no bound)"), Options.optional),
    to: Options.text("to").pipe(Options.withDescription("before this instant (ISO 8601; default: no bound)"), Options.optional),
    objectType: typeOption,
    status: Options.choice("status", ["pending", "fired", "skipped", "cancelled", "all"]).pipe(
      Options.withDescription("which ones (default pending: what is due)"),
      Options.withDefault("pending" as const)
    ),
    limit: limitOption(1000)
  },
  (o) =>
    withReadStore(
      o.config,
      Effect.gen(function* () {
        const store = yield* ActivationStore
        const bound = (value: Option.Option<string>, name: string) => (Option.isNone(value) ? Effect.succeed(null) : instantOr(value, name))
        const list = yield* store.list({
          from: yield* bound(o.from, "from"),
          to: yield* bound(o.to, "to"),
          limit: yield* checkLimit(o.limit, true),
          ...ofType(o.objectType),
          ...(o.status === "all" ? {} : { status: o.status })
        })
        for (const a of list) {
          yield* println(
            o.json
              ? JSON.stringify(a)
              : [a.at, a.kind.padEnd(7), a.status.padEnd(9), a.late ? "late" : "    ", `${a.objectType}/${a.objectId}`, `row ${a.rowId}`].join("  ")
          )
        }
        yield* nothing(o.json, list, `no ${o.status === "all" ? "" : `${o.status} `}activations${ofTypeText(o.objectType)}`)
      })
    )
).pipe(Command.withDescription("Virkningstid activations: pending ones (what is due) by default, oldest first"))

export const anomalies = Command.make(
  "anomalies",
  { config: configOption, json: jsonOption, after: afterOption("anomaly"), limit: limitOption(100), objectType: typeOption },
  (o) =>
    withReadStore(
      o.config,
      Effect.gen(function* () {
        const mirror = yield* MirrorStore
        const list = yield* mirror.anomalies({ after: o.after, limit: yield* checkLimit(o.limit, true), ...ofType(o.objectType) })
        for (const a of list) {
          yield* println(o.json ? JSON.stringify(a) : [String(a.id).padStart(6), a.detectedAt, a.kind.padEnd(18), `${a.objectType}/${a.objectId}`, a.detail].join("  "))
        }
        yield* nothing(o.json, list, `no anomalies${ofTypeText(o.objectType)}${after(o.after)}`)
      })
    )
).pipe(Command.withDescription("What mirrored upstreams did that skygge recorded instead of obeying (history rewrites, overlaps, …), oldest first"))

export const sources = Command.make("sources", { config: configOption, json: jsonOption }, (o) =>
  withReadStore(
    o.config,
    Effect.gen(function* () {
      const status = yield* sourcesStatus
      if (o.json) return yield* println(JSON.stringify(status))
      const line = (cells: ReadonlyArray<string>) => [cells[0]!.padEnd(24), cells[1]!.padEnd(28), cells[2]!.padEnd(27), cells[3]].join("  ").trimEnd()
      yield* println(line(["source", "cursor", "updatedAt", "age"]))
      for (const c of status.cursors) yield* println(line([c.source, c.cursor, c.updatedAt, `${Math.round(c.ageSeconds)} s ago`]))
      yield* println(`PUSH events recorded and not yet applied: ${status.pushInboxPending}`)
    })
  )
).pipe(Command.withDescription("Where each source path stands: its cursor, when it was last committed or confirmed, and the PUSH backlog"))

export const cluster = Command.make("cluster", { config: configOption, json: jsonOption }, (o) =>
  withReadStore(
    o.config,
    Effect.gen(function* () {
      const view = yield* readClusterView(null)
      if (o.json) return yield* println(JSON.stringify(view))
      const line = (cells: ReadonlyArray<string>) => [cells[0]!.padEnd(32), cells[1]!.padEnd(5), cells[2]!.padEnd(28), cells[3]].join("  ").trimEnd()
      yield* println(line(["member", "live", "heartbeat", "holds"]))
      for (const m of view.members) yield* println(line([m.id, m.live ? "yes" : "no", `${m.heartbeatAt.slice(0, 23)}Z (${m.heartbeatAgeSeconds.toFixed(1)} s)`, m.holds.join(", ")]))
      if (view.members.length === 0) yield* println("no engine has run on this store as a member")
      for (const s of view.singletons) if (s.holder === null) yield* println(`singleton ${s.name}: held by nobody`)
    })
  )
).pipe(Command.withDescription("The engines on the store (several on one PostgreSQL): each member, its last heartbeat, whether it is live, and the singletons it holds"))
