/**
 * Zip archives written with node:zlib (stored or deflated entries, UTF-8
 * names): what the register simulator serves as its file download, and what
 * tests feed the readers. Small archives, built in memory.
 */
import { writeFileSync } from "node:fs"
import { crc32, deflateRawSync } from "node:zlib"

export interface ZipFileEntry {
  readonly name: string
  readonly data: Uint8Array
  /** 0: stored; 1–9: deflated at that level. */
  readonly level: number
}

export const zipBytes = (entries: ReadonlyArray<ZipFileEntry>): Buffer => {
  const locals: Array<Buffer> = [], centrals: Array<Buffer> = []
  let offset = 0
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8")
    const method = e.level === 0 ? 0 : 8
    const body = method === 0 ? Buffer.from(e.data) : deflateRawSync(e.data, { level: e.level })
    const crc = crc32(e.data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(0x800, 6) // names in UTF-8
    local.writeUInt16LE(method, 8)
    local.writeUInt16LE(0x21, 12) // 1980-01-01
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(body.length, 18)
    local.writeUInt32LE(e.data.length, 22)
    local.writeUInt16LE(name.length, 26)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(20, 4)
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(0x800, 8)
    central.writeUInt16LE(method, 10)
    central.writeUInt16LE(0x21, 14)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(body.length, 20)
    central.writeUInt32LE(e.data.length, 24)
    central.writeUInt16LE(name.length, 28)
    central.writeUInt32LE(offset, 42)
    locals.push(local, name, body)
    centrals.push(central, name)
    offset += local.length + name.length + body.length
  }
  const cd = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(cd.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, cd, end])
}

export const writeZip = (file: string, entries: ReadonlyArray<ZipFileEntry>): void => writeFileSync(file, zipBytes(entries))
