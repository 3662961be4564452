/**
 * Bearer tokens with two scopes. Without configured tokens the API is open
 * (the server warns when that open API listens beyond loopback). A token may
 * be configured as itself or as `sha256:<hex>`, so a config file need not hold
 * the secret. Comparison is by digest in constant time.
 */
import { Effect, Layer, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { ApiConfig } from "../config/Config.js"
import { Forbidden, ReadAccess, Unauthorized, WriteAccess } from "./Api.js"

const digest = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest()

const configuredDigest = (entry: Redacted.Redacted): Buffer => {
  const value = Redacted.value(entry)
  return value.startsWith("sha256:") && /^[0-9a-f]{64}$/i.test(value.slice(7)) ? Buffer.from(value.slice(7), "hex") : digest(value)
}

const matches = (digests: ReadonlyArray<Buffer>, token: Buffer): boolean => {
  let found = false
  for (const d of digests) found = timingSafeEqual(d, token) || found // no early exit: constant time
  return found
}

type Scope = "read" | "write"

/** The bearer check for one scope. A write token also reads. */
const checker = (scope: Scope) =>
  Effect.map(ApiConfig, (cfg) => {
    const read = cfg.readTokens.map(configuredDigest)
    const write = cfg.writeTokens.map(configuredDigest)
    const open = read.length === 0 && write.length === 0
    return {
      bearer: (token: Redacted.Redacted): Effect.Effect<void, Unauthorized | Forbidden> => {
        if (open) return Effect.void
        const value = Redacted.value(token)
        if (value.length === 0) {
          return Effect.fail(new Unauthorized({ message: `a bearer token${scope === "write" ? " with write scope" : ""} is required (Authorization: Bearer …)` }))
        }
        const d = digest(value)
        if (matches(write, d)) return Effect.void
        if (matches(read, d)) {
          return scope === "read" ? Effect.void : Effect.fail(new Forbidden({ message: "this token has read scope only; writing needs a write token" }))
        }
        return Effect.fail(new Unauthorized({ message: "the bearer token is not valid" }))
      }
    }
  })

export const AuthLive = Layer.merge(Layer.effect(ReadAccess, checker("read")), Layer.effect(WriteAccess, checker("write")))
