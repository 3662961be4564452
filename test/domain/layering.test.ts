/**
 * The domain's layering, checked on the source: the core (instants, operations,
 * planning, the mirror, activations) imports neither source's domain, and the
 * two sources' domains (IntArk, Datafordeler) do not import each other — so a
 * new source or a new backend builds on the core alone.
 */
import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const domain = fileURLToPath(new URL("../../src/domain/", import.meta.url))
const importsOf = (area: string) =>
  readdirSync(`${domain}${area}`)
    .filter((f) => f.endsWith(".ts"))
    .flatMap((f) => [...readFileSync(`${domain}${area}/${f}`, "utf8").matchAll(/from\s+"([^"]+)"/g)].map((m) => `${area}/${f} → ${m[1]}`))

describe("domain layering", () => {
  it("the core imports neither source's domain, nor anything with effects", () => {
    const imports = importsOf("core")
    expect(imports.length).toBeGreaterThan(5)
    expect(imports.filter((i) => /→ \.\.\/(intark|datafordeler)\//.test(i) || /→ \.\.\/\.\.\//.test(i))).toEqual([])
  })

  it("the two sources' domains do not import each other", () => {
    expect(importsOf("intark").filter((i) => i.includes("../datafordeler/"))).toEqual([])
    expect(importsOf("datafordeler").filter((i) => i.includes("../intark/"))).toEqual([])
  })
})
