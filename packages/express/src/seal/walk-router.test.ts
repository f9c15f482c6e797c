import express from 'express'
import { describe, expect, it } from 'vitest'
import { callSite } from '@portcullis/runtime'
import { mountedApp } from './mounted-app.js'
import { pathParams } from './walk-router.js'

describe('pathParams', () => {
  it.each([
    ['/v1/videos/:id', ['id']],
    ['/t/:tenantId/videos/:videoId', ['tenantId', 'videoId']],
    ['/files/*path', ['path']],
    ['/a{/:optional}', ['optional']],
    ['/q/:"quoted name"', ['quoted name']],
    ['/plain', []],
    [String(/^\/r\/(?<year>\d+)$/), ['year']],
  ])('%s', (path, params) => {
    expect(pathParams(path)).toEqual(params)
  })
})

describe('callSite', () => {
  it('names the caller of a function, relative to the working directory', () => {
    function guard(): string {
      return callSite(guard)
    }
    expect(guard()).toMatch(/^packages\/express\/src\/seal\/walk-router\.test\.ts:\d+:\d+$/)
  })
})

describe('mountedApp', () => {
  it('finds the app behind app.use(path, subApp) without running any of its middleware', () => {
    let ran = 0
    const parent = express()
    const child = express()
    child.use(() => void ran++)
    child.get('/x', () => void ran++)
    parent.use('/child', child)
    const layer = parent.router.stack.find((l: { name?: string }) => l.name === 'mounted_app') as {
      handle: (...args: unknown[]) => unknown
    }
    expect(mountedApp(layer.handle)).toBe(child)
    expect(ran).toBe(0)
  })

  it('is null for any other function', () => {
    expect(mountedApp(() => undefined)).toBeNull()
    expect(mountedApp(express.json() as (...args: unknown[]) => unknown)).toBeNull()
  })
})
