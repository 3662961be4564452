/**
 * `skygge erase TYPE ID --reason TEXT [--allow-new]` (and `--lift`), and `skygge erasures`: the data
 * protection officer's commands (issue 18). The id is personal data: it is never printed back.
 */
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { idProblem } from "../../domain/core/Operation.js"
import { type ErasureRecord, Erasures } from "../../store/Erasures.js"
import { checkLimit, CliError, configOption, jsonOption, limitOption, nothing, println, withReadStore, withStore } from "../common.js"

const objectArgs = {
  objectType: Args.text({ name: "OBJECT_TYPE" }).pipe(Args.withDescription("the object type, e.g. fs.person")),
  objectId: Args.text({ name: "OBJECT_ID" }).pipe(Args.withDescription("the object's id within its type"))
}

const touchedText = (touched: ErasureRecord["touched"]) =>
  Object.entries(touched).map(([table, n]) => `${table} ${n}`).join(", ")

export const erasureLine = (e: ErasureRecord) =>
  [String(e.id).padStart(5), e.erasedAt, e.objectType, e.erasedBy, e.allowNew ? "new allowed" : e.liftedAt !== null ? `lifted ${e.liftedAt}` : "new refused", JSON.stringify(e.reason), touchedText(e.touched)].join("  ")

const checkId = (what: string, value: string) => {
  const problem = idProblem(value)
  return problem === undefined ? Effect.void : Effect.fail(new CliError({ message: `${what} ${problem}` }))
}

export const erase = Command.make(
  "erase",
  {
    config: configOption,
    json: jsonOption,
    reason: Options.text("reason").pipe(Options.withDescription("why (the request, the case number): kept in the erasure log"), Options.optional),
    allowNew: Options.boolean("allow-new").pipe(Options.withDescription("accept new inputs for the object afterwards (default: refused until lifted)")),
    lift: Options.boolean("lift").pipe(Options.withDescription("do not erase: lift the latest erasure of the object, so new inputs for it are accepted again")),
    ...objectArgs
  },
  (o) =>
    withStore(
      o.config,
      Effect.gen(function* () {
        yield* checkId("OBJECT_TYPE", o.objectType)
        yield* checkId("OBJECT_ID", o.objectId)
        const erasures = yield* Erasures
        if (o.lift) {
          const lifted = yield* erasures.lift(o.objectType, o.objectId)
          if (Option.isNone(lifted)) return yield* new CliError({ message: "that object was never erased in this store: nothing to lift" })
          return yield* println(o.json ? JSON.stringify(lifted.value) : `erasure ${lifted.value.id} lifted: new inputs for the object are accepted`)
        }
        const reason = Option.getOrElse(o.reason, () => "").trim()
        if (reason.length === 0) return yield* new CliError({ message: "--reason is required: say why (it is kept in the erasure log)" })
        const record = yield* erasures.erase({ objectType: o.objectType, objectId: o.objectId, reason, by: "cli", allowNew: o.allowNew })
        yield* println(
          o.json
            ? JSON.stringify(record)
            : `erased as erasure ${record.id} (tombstones: ${record.pseudonym}); touched ${touchedText(record.touched)}; new inputs ${record.allowNew ? "accepted" : "refused until lifted"}`
        )
      })
    )
).pipe(Command.withDescription("Erase an object's personal data everywhere in the store (history kept as tombstones), tell subscribers, log it"))

export const erasuresCommand = Command.make(
  "erasures",
  {
    config: configOption,
    json: jsonOption,
    after: Options.integer("after").pipe(Options.withDescription("start after this erasure id"), Options.withDefault(0)),
    limit: limitOption(100)
  },
  (o) =>
    withReadStore(
      o.config,
      Effect.gen(function* () {
        const list = yield* (yield* Erasures).list(o.after, yield* checkLimit(o.limit, true))
        for (const e of list) yield* println(o.json ? JSON.stringify(e) : erasureLine(e))
        yield* nothing(o.json, list, "no erasures")
      })
    )
).pipe(Command.withDescription("The erasure log, oldest first: when, by whom, why, what was touched (never the data, nor the id)"))
