// A bug in fleet is not bad input and not a failed host: its own exit status (70, EX_SOFTWARE),
// one line without a stack trace (FLEET_DEBUG=1 shows it), and under --json still one document.
import { describe, expect, it } from 'vitest'
import { EXIT } from '../../src/cli/exit-codes.ts'
import { reportFailure } from '../../src/cli/failure.ts'
import type { Io } from '../../src/cli/output.ts'

function capture(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = []
  const err: string[] = []
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false, env }
  return { io, out, err }
}

function bug(): Error {
  try {
    ;(undefined as unknown as { x: number }).x
  } catch (error) {
    return error as Error
  }
  throw new Error('unreachable')
}

describe('an internal error', () => {
  it('exits 70 with one line naming it a bug, no stack trace', () => {
    const { io, out, err } = capture()
    expect(reportFailure(bug(), io, { command: 'apply', json: false })).toBe(70)
    expect(EXIT.internal).toBe(70)
    expect(out).toEqual([])
    expect(err).toHaveLength(1)
    expect(err[0]).toMatch(/^fleet: internal error \(a bug in fleet, not in your input\): TypeError: Cannot read properties of undefined.*; run again with FLEET_DEBUG=1 for the stack trace and report it$/)
    expect(err[0]).not.toMatch(/\n|\s+at /)
  })

  it('shows the stack trace with FLEET_DEBUG=1', () => {
    const { io, err } = capture({ FLEET_DEBUG: '1' })
    expect(reportFailure(bug(), io, { command: 'apply', json: false })).toBe(70)
    expect(err.join('\n')).toMatch(/\n\s+at /)
  })

  it('a multi-line message stays one line', () => {
    const { io, err } = capture()
    reportFailure(new Error('first\nsecond'), io, { command: 'audit', json: false })
    expect(err).toHaveLength(1)
    expect(err[0]).toContain('Error: first')
  })

  it('is one JSON document on stdout under --json', () => {
    const { io, out, err } = capture()
    expect(reportFailure(bug(), io, { command: 'audit', json: true })).toBe(70)
    expect(JSON.parse(out.join('\n'))).toEqual({
      command: 'audit',
      error: { kind: 'internal', status: 70, problems: [{ message: expect.stringMatching(/^TypeError: Cannot read properties of undefined/) }] },
    })
    expect(err).toHaveLength(1)
  })

  it('something thrown that is not an Error is still reported', () => {
    const { io, err } = capture()
    expect(reportFailure('a string', io, { command: 'apply', json: false })).toBe(70)
    expect(err[0]).toContain('a string')
  })
})
