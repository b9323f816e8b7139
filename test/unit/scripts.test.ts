// The scripts fleet sends to hosts are POSIX sh: Debian's /bin/sh (dash) must parse every one of
// them, in every variant, and none may carry a value that was not quoted.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { changeOf } from '../../src/apply/change.ts'
import { loadBaselines, readInventory } from '../../src/cli/load.ts'
import { changeStep, confirmStep, factsStep, historyStep, readSavedStep, restoreNowStep } from '../../src/remote/scripts.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')

function parses(script: string): string {
  const r = spawnSync('/bin/sh', ['-n'], { input: script, encoding: 'utf8' })
  return r.status === 0 ? 'ok' : r.stderr
}

describe('remote scripts', async () => {
  const inventory = readInventory(path.join(ROOT, 'inventory/example.yaml'))
  const router = changeOf((await loadBaselines(inventory, inventory.hosts)).find((b) => b.host.name === 'router01')!)
  const { document6: _v6, ...v4only } = router
  const settings = { changeId: '20261126T000000.000Z-abcd', keep: 10, by: "o'brien@laptop", liveSum: '123 456', lockTtlSec: 150 }

  it.each([
    ['facts', factsStep(router).script],
    ['facts without IPv6', factsStep(v4only).script],
    ['change with confirmation', changeStep(router, { ...settings, confirmSec: 30 }).script],
    ['change without confirmation', changeStep(router, { ...settings, confirmSec: null }).script],
    ['change, IPv4 only, persisted', changeStep({ ...v4only, host: { ...v4only.host, persist: true } }, { ...settings, confirmSec: null }).script],
    ['confirmation', confirmStep(settings.changeId, router).script],
    ['confirmation, persisted', confirmStep(settings.changeId, { ...router, host: { ...router.host, persist: true } }).script],
    ['restore now', restoreNowStep(settings.changeId, "it's gone").script],
    ['history', historyStep().script],
    ['read saved', readSavedStep(settings.changeId).script],
  ])('%s parses with /bin/sh -n', (_name, script) => {
    expect(parses(script)).toBe('ok')
  })

  it('quotes what it did not write itself', () => {
    const script = changeStep(router, { ...settings, confirmSec: 30 }).script
    expect(script).toContain(`'o'\\''brien@laptop'`)
    expect(script).toContain(`= '123 456' ]`)
    // bash's $'...' strings, which dash takes literally
    expect(script).not.toMatch(/(^|\s)\$'/)
  })
})
