/**
 * Bearer tokens with two scopes. Without configured tokens the API is open
 * (the server warns when that open API listens beyond loopback). A token may
 * be configured as itself or as `sha256:<hex>`, so a config file need not hold
 * the secret. Comparison is by digest in constant time.
 */
import { Effect, Layer, Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { ApiConfig } from "../config/Config.js"
import { EraseAccess, Forbidden, ReadAccess, Unauthorized, WriteAccess } from "./Api.js"

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

type Scope = "read" | "write" | "erase"

/**
 * Who erased, as the erasure log records it: the first 12 hex digits of the token's SHA-256 (an operator
 * matches them against the `sha256:` entries of api.eraseTokens), never the token; `http` on an open API.
 */
export const tokenLabel = (authorization: string | undefined): string => {
  const token = /^Bearer\s+(.+)$/i.exec(authorization ?? "")?.[1]?.trim()
  return token === undefined || token.length === 0 ? "http" : `token sha256:${digest(token).toString("hex").slice(0, 12)}`
}

/**
 * The bearer check for one scope, on the token as the API's security reads it (the Authorization header
 * after `Bearer `): undefined when it may pass, else the refusal. A write token also reads; an erase
 * token only erases, and only it does. Plain, so the HTTP fast path (FastPath.ts) checks exactly as the
 * middleware below does.
 */
export const bearerCheck = (scope: Scope) =>
  Effect.map(ApiConfig, (cfg) => {
    const read = cfg.readTokens.map(configuredDigest)
    const write = cfg.writeTokens.map(configuredDigest)
    const erase = cfg.eraseTokens.map(configuredDigest)
    const open = read.length === 0 && write.length === 0 && erase.length === 0
    return (value: string): Unauthorized | Forbidden | undefined => {
      if (open) return undefined
      if (value.length === 0) {
        return new Unauthorized({ message: `a bearer token${scope === "read" ? "" : ` with ${scope} scope`} is required (Authorization: Bearer …)` })
      }
      const d = digest(value)
      if (scope === "erase") {
        if (matches(erase, d)) return undefined
        return matches(write, d) || matches(read, d)
          ? new Forbidden({ message: "erasing needs an erase token (api.eraseTokens); read and write tokens do not erase" })
          : new Unauthorized({ message: "the bearer token is not valid" })
      }
      if (matches(erase, d)) return new Forbidden({ message: "an erase token only erases (POST /v1/erasures); reading and writing need their own tokens" })
      if (matches(write, d)) return undefined
      if (matches(read, d)) return scope === "read" ? undefined : new Forbidden({ message: "this token has read scope only; writing needs a write token" })
      return new Unauthorized({ message: "the bearer token is not valid" })
    }
  })

const checker = (scope: Scope) =>
  Effect.map(bearerCheck(scope), (check) => ({
    bearer: (token: Redacted.Redacted): Effect.Effect<void, Unauthorized | Forbidden> => {
      const refusal = check(Redacted.value(token))
      return refusal === undefined ? Effect.void : Effect.fail(refusal)
    }
  }))

export const AuthLive = Layer.mergeAll(Layer.effect(ReadAccess, checker("read")), Layer.effect(WriteAccess, checker("write")), Layer.effect(EraseAccess, checker("erase")))
