// The operator's copy of a saved ruleset is a convenience: when it cannot be written, the change on
// the host (which keeps its own copy) goes on and the operator is told, never a host "failed" that
// the host's history says was applied.
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { hostRun } from '../../src/cli/host-work.ts'
import type { RunEvent } from '../../src/apply/events.ts'

const saved = process.env.XDG_STATE_HOME
afterEach(() => {
  if (saved === undefined) delete process.env.XDG_STATE_HOME
  else process.env.XDG_STATE_HOME = saved
})

describe("the operator's copy of a saved ruleset", () => {
  it('that cannot be written is a warning, not a failure of the host', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-local-copy-'))
    // A file where the state folder should be: mkdir fails as on a full or read-only disk.
    writeFileSync(path.join(dir, 'state'), 'not a folder')
    process.env.XDG_STATE_HOME = path.join(dir, 'state')
    const events: RunEvent[] = []
    const run = hostRun({} as never, async () => ({}) as never, {} as never, (e) => events.push(e), 'web01')
    expect(() => run.keepCopy('20261129T170000.000Z-abcd', { v4: '*filter\nCOMMIT\n' })).not.toThrow()
    expect(events).toEqual([
      {
        kind: 'step',
        host: 'web01',
        step: expect.stringMatching(/^warning: the operator's copy of the saved ruleset was not written \(.*(ENOTDIR|EEXIST).*\); the host keeps its own in \/var\/lib\/fleet\/saved$/),
      },
    ])
  })
})
