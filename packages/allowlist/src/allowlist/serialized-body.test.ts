import { describe, expect, it } from 'vitest'
import { isJsonType, readSerializedBody } from './serialized-body.js'

const JSON_TYPE = 'application/json; charset=utf-8'

describe('isJsonType', () => {
  it.each([
    'application/json',
    'APPLICATION/JSON',
    'application/json; charset=utf-8',
    'application/problem+json',
    'application/vnd.api+json',
    'application/ld+json;profile="x"',
  ])('%s is JSON', (type) => {
    expect(isJsonType(type)).toBe(true)
  })

  it.each([
    'application/jsonp',
    'application/json5',
    'text/json',
    'text/plain; a=application/json',
    ' application/json',
    'application/+json',
    'application/x+jsonl',
    '',
    undefined,
    ['application/json'],
    42,
  ])('%s is not JSON', (type) => {
    expect(isJsonType(type)).toBe(false)
  })
})

describe('readSerializedBody', () => {
  it('passes an empty body, as a string or bytes, whatever its type', () => {
    expect(readSerializedBody('', 'text/html', 10)).toEqual({ kind: 'empty' })
    expect(readSerializedBody(new Uint8Array(0), undefined, 0)).toEqual({ kind: 'empty' })
  })

  it('reads JSON from a string or from bytes', () => {
    expect(readSerializedBody('{"a":1}', JSON_TYPE, 100)).toEqual({ kind: 'json', value: { a: 1 } })
    expect(readSerializedBody(Buffer.from('[1,"é"]'), 'application/problem+json', 100)).toEqual({
      kind: 'json',
      value: [1, 'é'],
    })
  })

  it('reads only the bytes of a view into a larger buffer', () => {
    const whole = Buffer.from('xx{"id":7}yy')
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 2, 8)
    expect(readSerializedBody(view, JSON_TYPE, 8)).toEqual({ kind: 'json', value: { id: 7 } })
  })

  it('counts bytes, not characters, against maxBodyBytes; the limit itself passes', () => {
    const text = '"ééé"' // 5 characters, 8 bytes
    expect(readSerializedBody(text, JSON_TYPE, 8)).toEqual({ kind: 'json', value: 'ééé' })
    const over = readSerializedBody(text, JSON_TYPE, 7)
    expect(over.kind).toBe('uninspectable')
    expect(readSerializedBody(Buffer.from(text), JSON_TYPE, 7).kind).toBe('uninspectable')
  })

  it('refuses a body that is not JSON by its type, or does not parse, as PCL_RESPONSE_REJECTED (500)', () => {
    for (const read of [
      readSerializedBody('{"a":1}', 'text/plain', 100),
      readSerializedBody('{"a":1}', undefined, 100),
      readSerializedBody('{"a":', JSON_TYPE, 100),
      readSerializedBody(Buffer.from('not json'), JSON_TYPE, 100),
    ]) {
      expect(read.kind).toBe('uninspectable')
      if (read.kind !== 'uninspectable') continue
      expect(read.error.code).toBe('PCL_RESPONSE_REJECTED')
      expect(read.error.status).toBe(500)
    }
  })

  it('keeps the parse error as the cause, for the server log, and never the payload in the message', () => {
    const read = readSerializedBody('{"secret":"s3cr3t"', JSON_TYPE, 100)
    if (read.kind !== 'uninspectable') throw new Error('expected uninspectable')
    expect(read.error.cause).toBeInstanceOf(SyntaxError)
    expect(read.error.message).not.toContain('s3cr3t')
    const typed = readSerializedBody('{}', 'text/plain', 100)
    expect(typed.kind === 'uninspectable' && typed.error.cause).toBeUndefined()
  })
})
