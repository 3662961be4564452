/** Bytes cut at the given offsets, as a stream of chunks (to test readers against any chunking). */
export async function* chunked(bytes: Uint8Array, cuts: ReadonlyArray<number>) {
  let at = 0
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut > at && cut < bytes.length) {
      yield bytes.subarray(at, cut)
      at = cut
    }
  }
  yield bytes.subarray(at)
}
