/**
 * Entries of a zip file, each as a byte stream (stored or deflated), found
 * through the central directory — ZIP64 included, since register extracts
 * are often larger than 4 GiB. Reads by position, so memory stays constant.
 * Encrypted entries and other compression methods are refused by name.
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync } from "node:fs"
import { createInflateRaw } from "node:zlib"

export interface ZipEntry {
  readonly name: string
  readonly method: number
  readonly compressedSize: number
  readonly size: number
  readonly localHeaderOffset: number
  readonly encrypted: boolean
}

const EOCD = 0x06054b50, ZIP64_LOCATOR = 0x07064b50, ZIP64_EOCD = 0x06064b50, CENTRAL = 0x02014b50, LOCAL = 0x04034b50
const MAX_COMMENT = 0xffff

const readAt = (fd: number, position: number, length: number): Buffer => {
  const buffer = Buffer.alloc(length)
  const n = readSync(fd, buffer, 0, length, position)
  return buffer.subarray(0, n)
}

const big = (value: bigint, what: string): number => {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`zip: ${what} is too large`)
  return Number(value)
}

/**
 * Whether a file is a zip by its first bytes (a local header, or the end
 * record of an empty archive) — not by its name: a download service names
 * its file as it likes (Datafordeler's `…/FileDownloads/GetFile?…` has no `.zip`).
 */
export const isZipFile = (file: string): boolean => {
  const fd = openSync(file, "r")
  try {
    const head = readAt(fd, 0, 4)
    return head.length === 4 && (head.readUInt32LE(0) === LOCAL || head.readUInt32LE(0) === EOCD)
  } finally {
    closeSync(fd)
  }
}

/** The entries listed in the central directory, in order. */
export const zipEntries = (file: string): ReadonlyArray<ZipEntry> => {
  const fd = openSync(file, "r")
  try {
    const size = fstatSync(fd).size
    const tailLength = Math.min(size, 22 + MAX_COMMENT + 20)
    const tail = readAt(fd, size - tailLength, tailLength)
    let at = -1
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD) {
        at = i
        break
      }
    }
    if (at < 0) throw new Error(`${file} is not a zip file (no end of central directory)`)
    let count = tail.readUInt16LE(at + 10)
    let cdSize = tail.readUInt32LE(at + 12)
    let cdOffset = tail.readUInt32LE(at + 16)
    // ZIP64: the locator sits just before the end record and points at the ZIP64 end record.
    if (at >= 20 && tail.readUInt32LE(at - 20) === ZIP64_LOCATOR) {
      const recordOffset = big(tail.readBigUInt64LE(at - 20 + 8), "ZIP64 end record offset")
      const record = readAt(fd, recordOffset, 56)
      if (record.readUInt32LE(0) !== ZIP64_EOCD) throw new Error(`${file}: broken ZIP64 end record`)
      count = big(record.readBigUInt64LE(32), "entry count")
      cdSize = big(record.readBigUInt64LE(40), "central directory size")
      cdOffset = big(record.readBigUInt64LE(48), "central directory offset")
    }
    const cd = readAt(fd, cdOffset, cdSize)
    const entries: Array<ZipEntry> = []
    let p = 0
    for (let n = 0; n < count; n++) {
      if (cd.readUInt32LE(p) !== CENTRAL) throw new Error(`${file}: broken central directory at entry ${n + 1}`)
      const flags = cd.readUInt16LE(p + 8)
      const method = cd.readUInt16LE(p + 10)
      let compressedSize = cd.readUInt32LE(p + 20)
      let uncompressed = cd.readUInt32LE(p + 24)
      const nameLength = cd.readUInt16LE(p + 28), extraLength = cd.readUInt16LE(p + 30), commentLength = cd.readUInt16LE(p + 32)
      let localHeaderOffset = cd.readUInt32LE(p + 42)
      const name = cd.subarray(p + 46, p + 46 + nameLength).toString(flags & 0x800 ? "utf8" : "latin1")
      // ZIP64 extra field: the 64-bit values, in this order, for each 32-bit field that is saturated.
      let e = p + 46 + nameLength
      const extraEnd = e + extraLength
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e), length = cd.readUInt16LE(e + 2)
        if (id === 0x0001) {
          let q = e + 4
          if (uncompressed === 0xffffffff) (uncompressed = big(cd.readBigUInt64LE(q), "entry size")), (q += 8)
          if (compressedSize === 0xffffffff) (compressedSize = big(cd.readBigUInt64LE(q), "entry compressed size")), (q += 8)
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = big(cd.readBigUInt64LE(q), "entry offset")
        }
        e += 4 + length
      }
      entries.push({ name, method, compressedSize, size: uncompressed, localHeaderOffset, encrypted: (flags & 1) === 1 })
      p = extraEnd + commentLength
    }
    return entries
  } finally {
    closeSync(fd)
  }
}

/** One entry's uncompressed bytes, streamed. */
export const zipEntryStream = (file: string, entry: ZipEntry): AsyncIterable<Uint8Array> => {
  if (entry.encrypted) throw new Error(`zip entry ${entry.name} is encrypted`)
  if (entry.method !== 0 && entry.method !== 8) throw new Error(`zip entry ${entry.name} uses compression method ${entry.method}; only stored and deflate are read`)
  const fd = openSync(file, "r")
  let header: Buffer
  try {
    header = readAt(fd, entry.localHeaderOffset, 30)
  } finally {
    closeSync(fd)
  }
  if (header.readUInt32LE(0) !== LOCAL) throw new Error(`zip entry ${entry.name}: no local header where the directory says`)
  const start = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28)
  if (entry.compressedSize === 0) return (async function* () {})()
  const raw = createReadStream(file, { start, end: start + entry.compressedSize - 1, highWaterMark: 1 << 20 })
  return entry.method === 0 ? raw : raw.pipe(createInflateRaw())
}
