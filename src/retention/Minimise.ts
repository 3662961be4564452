/**
 * `skygge minimise`: rewrite what was stored before a type's `fields` setting (or before it changed)
 * to what the setting keeps now — every row's `data` and every recorded operation's `data`.
 *
 * In place, not as a new registration: the register did not change (a new registration would say it
 * did, at the time of the rewrite, and tell downstream of a change nobody made); our copy of it
 * shrinks. Every instant, every row and every as-of answer keep their shape; only the dropped fields
 * are gone from every version. Idempotent: a second run rewrites nothing.
 */
import { Effect } from "effect"
import { ERASED_DATA } from "../domain/core/Erasure.js"
import { minimise } from "../domain/core/Fields.js"
import { canonicalJson, decodeRecordedOperation, encodeOperation } from "../domain/core/Operation.js"
import { DataProtection, type StoredText } from "../store/DataProtection.js"
import type { TypeFields } from "./FieldSettings.js"

const PAGE = 1000

export interface MinimiseReport {
  readonly objectType: string
  readonly rows: number
  readonly rowsRewritten: number
  readonly events: number
  readonly eventsRewritten: number
}

/** An erased object's tombstone data stays as it is (a keep list would empty it): it holds nothing to minimise. */
const minimisedText = (text: string, t: TypeFields): string =>
  text === ERASED_DATA ? text : canonicalJson(minimise(JSON.parse(text) as unknown, t.fields, t.always))

/**
 * A recorded operation's text with its `data` minimised (retracts carry none), in the event log's own form: a
 * resent operation is a duplicate only when its text equals the recorded one, so an operation fetched under the
 * setting must read the same as one recorded before it and minimised here.
 */
const minimisedOperation = (text: string, t: TypeFields): string => {
  const op = decodeRecordedOperation(text)
  if (op.op !== "assert" || op.data === ERASED_DATA) return text
  const data = canonicalJson(minimise(JSON.parse(op.data) as unknown, t.fields, t.always))
  return data === op.data ? text : encodeOperation({ ...op, data })
}

const rewritePages = (
  read: (after: number) => Effect.Effect<ReadonlyArray<StoredText>, unknown>,
  write: (updates: ReadonlyArray<StoredText>) => Effect.Effect<number, unknown>,
  rewrite: (text: string) => string,
  dryRun: boolean
) =>
  Effect.gen(function* () {
    let seen = 0, rewritten = 0
    for (let after = 0; ; ) {
      const page = yield* read(after)
      const updates = page.flatMap((s) => {
        const text = rewrite(s.text)
        return text === s.text ? [] : [{ key: s.key, text }]
      })
      seen += page.length
      rewritten += dryRun ? updates.length : yield* write(updates)
      if (page.length < PAGE) break
      after = page[page.length - 1]!.key
    }
    return { seen, rewritten }
  })

export const minimiseType = (t: TypeFields, dryRun: boolean) =>
  Effect.gen(function* () {
    const store = yield* DataProtection
    const rows = yield* rewritePages((after) => store.rowData(t.objectType, after, PAGE), store.rewriteRowData, (text) => minimisedText(text, t), dryRun)
    // Mirrored rows record no operations; assert/retract types do, each with the data it stored.
    const events = yield* rewritePages((after) => store.eventOperations(t.objectType, after, PAGE), store.rewriteEventOperations, (text) => minimisedOperation(text, t), dryRun)
    return { objectType: t.objectType, rows: rows.seen, rowsRewritten: rows.rewritten, events: events.seen, eventsRewritten: events.rewritten } satisfies MinimiseReport
  })
