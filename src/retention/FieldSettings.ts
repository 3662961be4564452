/**
 * The configured minimisation per object type, gathered from every source (IntArk resources' and
 * Datafordeler entities' `fields`): what `skygge minimise` rewrites to and what `skygge import-extract`
 * applies to a dump of that type. Two sources storing one type must agree on its fields.
 */
import { Effect } from "effect"
import { ConfigFileError } from "../config/Config.js"
import type { FieldFilter } from "../domain/core/Fields.js"
import { DATAFORDELER_SHAPE } from "../domain/datafordeler/DatafordelerRows.js"
import { decodeDafSources } from "../sources/datafordeler/DafConfig.js"
import { decodeIntarkSources, objectTypeOf } from "../sources/intark/IntarkConfig.js"

export interface TypeFields {
  readonly objectType: string
  readonly fields: FieldFilter
  /** Paths kept whatever the filter says (a mirrored row's id and identity fields). */
  readonly always: ReadonlyArray<string>
  /** Where it is configured, e.g. `sources[fs-uio].resources.personer`. */
  readonly origin: string
  /** Rows mirrored from a bitemporal register (their data holds no instants). */
  readonly mirrored: boolean
}

export const fieldsByType = (sources: ReadonlyArray<unknown>): Effect.Effect<ReadonlyMap<string, TypeFields>, ConfigFileError> =>
  Effect.gen(function* () {
    const found: Array<TypeFields> = []
    for (const s of yield* decodeIntarkSources(sources)) {
      for (const [resource, r] of Object.entries(s.resources)) {
        if (r.fields !== undefined) found.push({ objectType: objectTypeOf(s, resource), fields: r.fields, always: [], origin: `sources[${s.name}].resources.${resource}`, mirrored: false })
      }
    }
    for (const s of yield* decodeDafSources(sources)) {
      for (const [name, e] of Object.entries(s.entities)) {
        if (e.fields !== undefined) {
          found.push({ objectType: e.objectType, fields: e.fields, always: [e.idField ?? DATAFORDELER_SHAPE.id, ...e.identity], origin: `sources[${s.name}].entities.${name}`, mirrored: true })
        }
      }
    }
    const byType = new Map<string, TypeFields>()
    for (const t of found) {
      const other = byType.get(t.objectType)
      if (other !== undefined && JSON.stringify(other.fields) !== JSON.stringify(t.fields)) {
        return yield* Effect.fail(new ConfigFileError(`${t.origin} and ${other.origin} store object type ${t.objectType} with different fields: give them the same`))
      }
      byType.set(t.objectType, t)
    }
    return byType as ReadonlyMap<string, TypeFields>
  })
