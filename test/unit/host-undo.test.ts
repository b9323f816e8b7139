// The host's undo of a change, run for real (dash, a scratch state directory): each host setting
// the change made is set back from the value it had before, which reaches the role's undo as data
// (one the role keeps, undo: 'keep', is named as staying changed; one the change did not make is left), and the
// restore is judged by the tables fleet manages.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { EXIT_SETTLED, prelude, settingKey } from '../../src/remote/host-state.ts'
import { changeStep } from '../../src/remote/change-script.ts'
import { parseSections } from '../../src/remote/sections.ts'
import { restoreNowStep } from '../../src/remote/settle-scripts.ts'
import type { CommandTask } from '../../src/roles/types.ts'
import { hostShell, scratchState } from '../helpers/host-shell.ts'

const ID = '20261126T000000.000Z-abcd'
// A setting whose check prints `now` (what the change made it: want is '1').
const setting = (title: string, undo?: string, now = '1'): CommandTask => ({ kind: 'command', title, check: `echo ${now}`, want: '1', run: 'true', ...(undo !== undefined && { undo }) })

const run = (dir: string, settings: readonly CommandTask[], body: string) => hostShell(dir, `${prelude(ID, { commands: settings, action: 'apply' })}\n${body}\n`)

// The record of a setting's value before the change. (Role commands run in a shell of their own:
// they name the scratch directory itself, not $S.)
const record = (dir: string, s: CommandTask, value: string) => writeFileSync(path.join(dir, `saved/${ID}.setting-${settingKey(s)}`), `${value}\n`)

describe("a change's host settings, undone", () => {
  it('are set back from the values they had, last first; those the role keeps are named', () => {
    const dir = scratchState()
    const forward = setting('set net.ipv4.ip_forward = 1', `printf "forward=%s\\n" "$(cat)" >> ${dir}/undone`)
    const knob = { ...setting("o'brien's knob"), check: 'echo 1 # knob' }
    const rp = { ...setting('set rp_filter', `printf "rp=%s\\n" "$(cat)" >> ${dir}/undone`), check: 'echo 1 # rp' }
    const untouched = { ...setting('a setting this change did not make', `echo never >> ${dir}/undone`), check: 'echo 1 # untouched' }
    record(dir, forward, '0')
    record(dir, knob, 'x')
    record(dir, rp, '7')
    const { out, code } = run(dir, [forward, knob, rp, untouched], 'fleet_undo_settings; echo "status=$?"; fleet_kept_note')
    expect(code).toBe(0)
    expect(readFileSync(path.join(dir, 'undone'), 'utf8')).toBe('rp=7\nforward=0\n')
    expect(out).toBe("status=0\n; host settings the role keeps as changed: o'brien's knob")
  })

  it('hand the undo the old value as data: a value that looks like shell runs nothing', () => {
    const dir = scratchState()
    const knob = setting('knob', `cat > ${dir}/value`)
    record(dir, knob, '$(touch "$S/pwned"); `touch "$S/pwned2"`')
    expect(run(dir, [knob], 'fleet_undo_settings').code).toBe(0)
    expect(readFileSync(path.join(dir, 'value'), 'utf8')).toBe('$(touch "$S/pwned"); `touch "$S/pwned2"`\n')
    expect(existsSync(path.join(dir, 'pwned')) || existsSync(path.join(dir, 'pwned2'))).toBe(false)
  })

  it('leave a setting that no longer holds what the change made it (set back already, or changed since)', () => {
    const dir = scratchState()
    const knob = setting('knob', `echo undone >> ${dir}/undone`, '2')
    record(dir, knob, '0')
    const { out } = run(dir, [knob], 'fleet_undo_settings; fleet_kept_note')
    expect(existsSync(path.join(dir, 'undone'))).toBe(false)
    expect(out).toBe('')
  })

  it('name an undo that fails, after trying the others, and do not count it as a failed restore', () => {
    const dir = scratchState()
    const first = setting('first', `cat >> ${dir}/undone`)
    const second = { ...setting('second', 'false'), check: 'echo 1 # second' }
    record(dir, first, '0')
    record(dir, second, '0')
    const { out } = run(dir, [first, second], 'fleet_undo_settings && fleet_kept_note')
    expect(out).toBe('; host settings that could not be set back (their undo failed): second')
    expect(readFileSync(path.join(dir, 'undone'), 'utf8')).toBe('0\n')
  })

  it('leave a setting the change found as it wanted (kept for a rollback, not changed by this change)', () => {
    const dir = scratchState()
    const knob = setting('knob', `echo undone >> ${dir}/undone`)
    record(dir, knob, '1')
    expect(run(dir, [knob], 'fleet_undo_settings; fleet_kept_note').out).toBe('')
    expect(existsSync(path.join(dir, 'undone'))).toBe(false)
  })

  // The rules' restore stood in for by a function that logs (no netfilter is touched here).
  const restoreOrder = (action: 'apply' | 'rollback', rules: 'restored' | 'failed') => {
    const dir = scratchState()
    const knob = setting('forwarding', `sh -c 'echo settings >> ${dir}/log'`)
    record(dir, knob, '0')
    const stub = `fleet_restore_rules() { echo rules >> ${dir}/log; ${rules === 'restored' ? 'true' : 'false'}; }`
    const { out } = hostShell(dir, `${prelude(ID, { commands: [knob], action })}\n${stub}\nfleet_restore_saved && echo ok || echo failed`)
    return `${readFileSync(path.join(dir, 'log'), 'utf8').trim().replace(/\n/g, ', ')}: ${out.trim()}`
  }

  it("go back the reverse way of the change: an apply's settings before its rules, a rollback's after, and only over rules restored whole", () => {
    expect(restoreOrder('apply', 'restored')).toBe('settings, rules: ok')
    expect(restoreOrder('apply', 'failed')).toBe('settings, rules: failed')
    expect(restoreOrder('rollback', 'restored')).toBe('rules, settings: ok')
    expect(restoreOrder('rollback', 'failed')).toBe('rules: failed')
  })

  it('with no settings, undo nothing and name nothing', () => {
    const { out } = run(scratchState(), [], 'fleet_undo_settings && fleet_kept_note && echo done')
    expect(out).toBe('done\n')
  })
})

// After an undo, the host is checked to hold the saved rulesets again: in the tables fleet manages.
describe('the check that a restore took', () => {
  const saved = '*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n'
  const check = (live: string) => {
    const dir = scratchState()
    writeFileSync(path.join(dir, 'saved.v4'), saved)
    writeFileSync(path.join(dir, 'live.v4'), live)
    return hostShell(dir, `${prelude(ID)}\nfleet_live_is "cat $S/live.v4" "$S/saved.v4"`).code
  }

  it.each([
    ['the same rules, other counters and comments', `# Generated by iptables-save\n${saved.replace(':INPUT DROP [0:0]', ':INPUT DROP [12:345]')}# Completed\n`, 0],
    ['a table fleet does not manage, changed meanwhile', `*security\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n${saved}`, 0],
    ['a rule more in a managed table', saved.replace('COMMIT', '-A INPUT -j ACCEPT\nCOMMIT'), 1],
    ['a managed table more', `${saved}*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -j NOTRACK\nCOMMIT\n`, 1],
  ])("%s", (_what, live, code) => {
    expect(check(live)).toBe(code)
  })
})

// fleet lost the connection that carried a change, and its undo finds no record of it on the host.
describe('an undo of a change the host never recorded', () => {
  it('leaves word that the change must not be made if its script arrives late, and says nothing changed', () => {
    const dir = scratchState()
    // The restore itself stands in for a failure, so nothing here could touch netfilter.
    const step = restoreNowStep(ID, { commands: [], action: 'apply' }, 'the connection was lost', 1, { step: 'restore', kind: 'fail' })
    const { out, code } = hostShell(dir, step.script)
    expect(code).toBe(EXIT_SETTLED)
    expect(parseSections(out, step.marks).text.get('settled')).toBe('status=\nreason=\n')
    expect(existsSync(path.join(dir, `abandoned.${ID}`))).toBe(true)
  })

  it('is heeded by the change script right after it records the change, before it saves or loads anything', () => {
    const change = { host: { name: 'h', persist: false, preserve: [] }, action: 'apply', document: '*filter\nCOMMIT\n', commands: [], note: 'role r' } as never
    const script = changeStep(change, { changeId: ID, confirmSec: 30, confirmFresh: true, keep: 10, by: 'me', liveSum: '1 2', lockTtlSec: 150 }).script
    const recorded = script.indexOf('status=pending')
    const heeded = script.indexOf('abandoned.$ID')
    expect(recorded).toBeGreaterThan(0)
    expect(heeded).toBeGreaterThan(recorded)
    expect(heeded).toBeLessThan(script.indexOf('iptables-save)'))
  })
})
