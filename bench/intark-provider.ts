/**
 * The provider side of bench/intark.ts, in its own process (as a real provider
 * is): `bare` publishes M FS notifications; `sim` runs the FS simulator (API and
 * notifications) and publishes M changes of distinct persons through it.
 * Protocol on stdio: prints `{"ready": baseUrl?}`, publishes on a line "go",
 * prints `{"published": M}`, and (sim) keeps serving until stdin closes.
 */
import amqp from "amqplib"
import { randomUUID } from "node:crypto"
import { createInterface } from "node:readline"
import { fsPerson, startFsSimulator } from "../src/sources/intark/simulator/FsSimulator.js"

const [mode, amqpUrl, exchange, count] = process.argv.slice(2) as [string, string, string, string]
const M = Number(count)
const say = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)
const lines = createInterface({ input: process.stdin })
const nextLine = () => new Promise<string>((resolve) => lines.once("line", resolve))

const main = async () => {
  if (mode === "bare") {
    const connection = await amqp.connect(amqpUrl)
    const ch = await connection.createConfirmChannel()
    await ch.assertExchange(exchange, "topic", { durable: true })
    say({ ready: true })
    await nextLine()
    for (let i = 0; i < M; i++) {
      const id = String(100_000 + i)
      const body = { sub: `personer/${id}`, iss: "FS-prod", iat: String(Date.now()), operation: "create", jti: randomUUID(), person_id: id }
      if (!ch.publish(exchange, "no.uio.fs.FS-prod.personer.create", Buffer.from(JSON.stringify(body)), { persistent: true })) await new Promise((r) => ch.once("drain", r))
      if (i % 1000 === 999) await ch.waitForConfirms()
    }
    await ch.waitForConfirms()
    say({ published: M })
    await connection.close()
    process.exit(0)
  }
  const sim = await startFsSimulator({ amqpUrl, exchange, seed: 3 })
  say({ ready: sim.baseUrl })
  await nextLine()
  const origin = new URL(sim.baseUrl).origin
  for (let i = 0; i < M; i++) {
    const id = String(100_000 + i)
    await sim.upsert("personer", id, fsPerson(origin, id, 1))
    if (i % 200 === 199) await new Promise((r) => setImmediate(r))
  }
  await sim.flush()
  say({ published: M })
  lines.once("close", () => void sim.close({ deleteExchange: true }).then(() => { if (process.env.SKYGGE_BENCH_DEBUG) { const u = process.resourceUsage(); console.error(`  provider cpu: user ${Math.round(u.userCPUTime / 1000)} ms, system ${Math.round(u.systemCPUTime / 1000)} ms`) } process.exit(0) }))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
