/**
 * Drift between an upstream and the shadow, from what each holds per object:
 * a content fingerprint, or `null` when the upstream's list carries only a
 * pointer (then only a fetch can tell). Pure, so the rules are easy to see:
 *
 *   upstream only                → missing
 *   both, fingerprints differ    → changed
 *   both, upstream unknown       → unverified (a fetch decides; it writes only a real change)
 *   shadow only                  → extra (gone upstream)
 */
import { createHash } from "node:crypto"
import { type FieldFilter, minimise } from "../core/Fields.js"
import { canonicalJson } from "../core/Operation.js"

export interface Drift {
  readonly missing: ReadonlyArray<string>
  readonly changed: ReadonlyArray<string>
  readonly unverified: ReadonlyArray<string>
  readonly extra: ReadonlyArray<string>
  /** Objects looked at: the union of both sides. */
  readonly checked: number
}

/** A short, stable fingerprint of a JSON value (key order does not matter). */
export const fingerprint = (value: unknown): string => createHash("sha256").update(canonicalJson(value)).digest("base64url").slice(0, 22)

const POINTER_KEYS = new Set(["href", "id", "rel"])

/** A list item's fingerprint when it carries the entity, else null (a bare pointer). */
export const itemFingerprint = (item: unknown, fields?: FieldFilter): string | null =>
  item !== null && typeof item === "object" && !Array.isArray(item) && Object.keys(item).some((k) => !POINTER_KEYS.has(k)) ? fingerprint(minimise(item, fields)) : null

export const drift = (upstream: ReadonlyMap<string, string | null>, shadow: ReadonlyMap<string, string>): Drift => {
  const missing: Array<string> = [], changed: Array<string> = [], unverified: Array<string> = [], extra: Array<string> = []
  for (const [id, print] of upstream) {
    const mine = shadow.get(id)
    if (mine === undefined) missing.push(id)
    else if (print === null) unverified.push(id)
    else if (print !== mine) changed.push(id)
  }
  for (const id of shadow.keys()) if (!upstream.has(id)) extra.push(id)
  return { missing, changed, unverified, extra, checked: upstream.size + extra.length }
}
