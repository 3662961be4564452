/**
 * Prometheus text (what `/metrics` answers) read into samples, pure: the operations view shows work items,
 * outbox backlogs and counts from it. Only the sample lines matter here: `name{label="value",…} number`.
 */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

export const parseMetrics = (text: string): ReadonlyArray<Sample> =>
  text.split("\n").flatMap((line) => {
    if (line.startsWith("#")) return []
    const m = LINE.exec(line.trim())
    if (m === null) return []
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\(.)/g, "$1")
    return [{ name: m[1]!, labels, value: Number(m[3]) }]
  })

/** The samples of one metric. */
export const samplesOf = (samples: ReadonlyArray<Sample>, name: string): ReadonlyArray<Sample> => samples.filter((s) => s.name === name)

/** The value of a metric without labels (or the sum of its samples), undefined when absent. */
export const valueOf = (samples: ReadonlyArray<Sample>, name: string): number | undefined => {
  const found = samplesOf(samples, name)
  return found.length === 0 ? undefined : found.reduce((sum, s) => sum + s.value, 0)
}
