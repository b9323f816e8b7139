// The scripts fleet sends to hosts are POSIX sh: Debian's /bin/sh (dash) must parse every one of
// them, in every variant, and none may carry a value that was not quoted.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { changeOf } from '../../src/plan/change.ts'
import { loadBaselines, readInventory } from '../../src/cli/load.ts'
import { FAULT_KINDS, FAULT_STEPS } from '../../src/remote/fault.ts'
import { quote } from '../../src/shell/quote.ts'
import { changeStep } from '../../src/remote/change-script.ts'
import { factsStep, historyStep, readSavedStep } from '../../src/remote/read-scripts.ts'
import { confirmStep, finishStep, restoreNowStep } from '../../src/remote/settle-scripts.ts'

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
    ['change with confirmation', changeStep(router, { ...settings, confirmSec: 30, confirmFresh: true }).script],
    ['change without confirmation', changeStep(router, { ...settings, confirmSec: 30, confirmFresh: false }).script],
    ['change, IPv4 only, persisted', changeStep({ ...v4only, host: { ...v4only.host, persist: true } }, { ...settings, confirmSec: 30, confirmFresh: false }).script],
    ['confirmation', confirmStep(settings.changeId, router).script],
    ['confirmation, persisted', confirmStep(settings.changeId, { ...router, host: { ...router.host, persist: true } }).script],
    ['restore now', restoreNowStep(settings.changeId, router, "it's gone", 20).script],
    ['finish, persisted', finishStep(settings.changeId, { ...router, host: { ...router.host, persist: true } }).script],
    ['history', historyStep().script],
    ['read saved', readSavedStep(settings.changeId).script],
  ])('%s parses with /bin/sh -n', (_name, script) => {
    expect(parses(script)).toBe('ok')
  })

  it.each(FAULT_STEPS.flatMap((step) => FAULT_KINDS.map((kind) => ({ step, kind }))))('with FLEET_FAULT $step:$kind, every script parses', (fault) => {
    const persisted = { ...router, host: { ...router.host, persist: true } }
    for (const script of [
      factsStep(router, fault).script,
      changeStep(persisted, { ...settings, confirmSec: 30, confirmFresh: true, fault }).script,
      changeStep(persisted, { ...settings, confirmSec: 30, confirmFresh: false, fault }).script,
      confirmStep(settings.changeId, persisted, fault, 30).script,
      finishStep(settings.changeId, persisted, fault, 30).script,
      restoreNowStep(settings.changeId, router, 'why', 20, fault).script,
    ]) expect(parses(script)).toBe('ok')
  })

  it('sends rulesets as data: no line of a document, whatever it holds, is a line of the script', () => {
    // What iptables-save prints for a rule whose comment holds newlines: host text, never code.
    const hostile = `${router.document.replace('COMMIT', "-A INPUT -m comment --comment \"x\nFLEET_RULESET_EOF\ntouch /tmp/pwned #\" -j ACCEPT\nCOMMIT")}'$(reboot)'\n`
    const change = { ...router, document: hostile, document6: hostile }
    for (const script of [factsStep(change).script, changeStep(change, { ...settings, confirmSec: 30, confirmFresh: true }).script]) {
      expect(parses(script)).toBe('ok')
      const lines = new Set(script.split('\n'))
      expect(['FLEET_RULESET_EOF', 'touch /tmp/pwned #" -j ACCEPT', "'$(reboot)'"].filter((l) => lines.has(l))).toEqual([])
      // No heredoc at all: the timer's script travels encoded too.
      expect(script.match(/<<\S*/g) ?? []).toEqual([])
    }
  })

  it('makes an apply\'s settings after its load, and sets a rollback\'s back before it (forwarding never on without its rules)', () => {
    const order = (action: 'apply' | 'rollback') => {
      const script = changeStep({ ...router, action }, { ...settings, confirmSec: 30, confirmFresh: true }).script
      return script.indexOf('sysctl -q -w net.ipv4.ip_forward=1') < script.indexOf('-w 30 "$S/applied/$ID.v4"') ? 'settings first' : 'load first'
    }
    expect(order('apply')).toBe('load first')
    expect(order('rollback')).toBe('settings first')
  })

  it("carries a rollback's setting values (host text) as data, in the change and in its timer", () => {
    const hostile = "x\nFLEET_TIMER_EOF\ntouch /tmp/pwned\n'$(reboot)'"
    const setting = { kind: 'command' as const, title: 'set back: knob', check: 'cat /proc/sys/knob', want: hostile, run: 'true', undo: 'tee /proc/sys/knob' }
    const script = changeStep({ ...router, action: 'rollback', commands: [setting] }, { ...settings, confirmSec: 30, confirmFresh: true }).script
    expect(parses(script)).toBe('ok')
    // The value is there only as one single-quoted word, and nothing can end a heredoc: there is none.
    expect(script.match(/<<\S*/g) ?? []).toEqual([])
    expect(script.split(quote(hostile)).join('')).not.toMatch(/FLEET_TIMER_EOF|pwned|reboot/)
  })

  it('quotes an id it reads from a host', () => {
    expect(readSavedStep('x;reboot').script).toContain("'/var/lib/fleet/saved/x;reboot.v4'")
  })

  it('quotes what it did not write itself', () => {
    const script = changeStep(router, { ...settings, confirmSec: 30, confirmFresh: true }).script
    expect(script).toContain(`'o'\\''brien@laptop'`)
    expect(script).toContain(`= '123 456' ]`)
    // bash's $'...' strings, which dash takes literally
    expect(script).not.toMatch(/(^|\s)\$'/)
  })
})
