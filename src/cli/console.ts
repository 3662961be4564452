/**
 * The console @effect/cli prints help and usage errors through, made fit for pipes and logs:
 * no ANSI colour codes where the stream is not a terminal (or NO_COLOR is set), and without the
 * library's type line for free text ("A user-defined piece of text."), which says nothing; each
 * option's own description follows it.
 */
import { Console, Effect } from "effect"

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g
const TEXT_TYPE_LINE = /^[ \t]*A user-defined piece of text\.[ \t]*\n(?:[ \t]*\n)?/gm

const colours = (stream: NodeJS.WriteStream) => stream.isTTY === true && (process.env.NO_COLOR ?? "") === ""

const tidy = (stream: NodeJS.WriteStream) => (value: unknown) => {
  if (typeof value !== "string") return value
  const text = colours(stream) ? value : value.replace(ANSI, "")
  return text.replace(TEXT_TYPE_LINE, "")
}

/** Run `effect` with help and error text tidied as above. */
export const withCliConsole = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.console, (base) =>
    Console.withConsole(effect, {
      ...base,
      log: (...args: ReadonlyArray<unknown>) => base.log(...args.map(tidy(process.stdout))),
      info: (...args: ReadonlyArray<unknown>) => base.info(...args.map(tidy(process.stdout))),
      error: (...args: ReadonlyArray<unknown>) => base.error(...args.map(tidy(process.stderr))),
      warn: (...args: ReadonlyArray<unknown>) => base.warn(...args.map(tidy(process.stderr)))
    })
  )
