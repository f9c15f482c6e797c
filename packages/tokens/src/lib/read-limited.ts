/**
 * Reads a response body of at most `maxBytes`, or throws what `tooLarge` makes. Counts while
 * streaming: Content-Length may be absent or lie, and fetch decompresses, so only the bytes
 * actually read bound the memory an endpoint can make us hold. Leaving the loop early cancels
 * the stream.
 */
export async function readLimited(
  response: Response,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length'))
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined)
    throw tooLarge()
  }
  if (response.body === null) return new Uint8Array()
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength
    if (total > maxBytes) throw tooLarge()
    chunks.push(chunk)
  }
  const body = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return body
}
