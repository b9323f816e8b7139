// The undo of a change's host settings, run for real (dash, a scratch state directory): each
// setting the change made is set back from the value it had before, which reaches the role's undo
// as data; one without an undo is named as staying changed; one the change did not make is left.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { prelude, STATE_DIR } from '../../src/remote/host-state.ts'
import type { CommandTask } from '../../src/roles/types.ts'

const ID = '20261126T000000.000Z-abcd'
const setting = (title: string, undo?: string): CommandTask => ({ kind: 'command', title, check: 'true', want: '1', run: 'true', ...(undo !== undefined && { undo }) })

// Runs `body` after the prelude; returns its stdout and exit status.
function run(dir: string, settings: readonly CommandTask[], body: string): { out: string; code: number } {
  const script = `${prelude(ID, settings)}\n${body}\n`.replaceAll(`S=${STATE_DIR}`, `S=${dir}`)
  try {
    return { out: execFileSync('/bin/sh', ['-s'], { input: script, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] }), code: 0 }
  } catch (error) {
    const e = error as { stdout: string; status: number }
    return { out: e.stdout, code: e.status }
  }
}

function scratch(records: Record<number, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-settings-'))
  mkdirSync(path.join(dir, 'saved'))
  for (const [i, value] of Object.entries(records)) writeFileSync(path.join(dir, `saved/${ID}.setting-${i}`), `${value}\n`)
  return dir
}

describe("a change's host settings, undone", () => {
  it('are set back from the values they had, last first; those without an undo are named', () => {
    const dir = scratch({ 0: '0', 1: 'x', 2: '7' })
    const settings = [
      setting('set net.ipv4.ip_forward = 1', 'printf "forward=%s\\n" "$(cat)" >> "$S/undone"'),
      setting("o'brien's knob"),
      setting('set rp_filter', 'printf "rp=%s\\n" "$(cat)" >> "$S/undone"'),
      setting('a setting this change did not make', 'echo never >> "$S/undone"'),
    ]
    const { out, code } = run(dir, settings, 'fleet_undo_settings; echo "status=$?"; fleet_kept_note')
    expect(code).toBe(0)
    expect(readFileSync(path.join(dir, 'undone'), 'utf8')).toBe('rp=7\nforward=0\n')
    expect(out).toBe("status=0\n; host settings without an undo stay as changed: o'brien's knob")
  })

  it("hand the undo the old value as data: a value that looks like shell runs nothing", () => {
    const dir = scratch({ 0: '$(touch "$S/pwned"); `touch "$S/pwned2"`' })
    const { code } = run(dir, [setting('knob', 'cat > "$S/value"')], 'fleet_undo_settings')
    expect(code).toBe(0)
    expect(readFileSync(path.join(dir, 'value'), 'utf8')).toBe('$(touch "$S/pwned"); `touch "$S/pwned2"`\n')
    expect(existsSync(path.join(dir, 'pwned')) || existsSync(path.join(dir, 'pwned2'))).toBe(false)
  })

  it('fail when an undo fails, after trying the others', () => {
    const dir = scratch({ 0: '0', 1: '1' })
    const settings = [setting('first', 'cat >> "$S/undone"'), setting('second', 'false')]
    const { out, code } = run(dir, settings, 'fleet_undo_settings || echo failed')
    expect(code).toBe(0)
    expect(out).toBe('failed\n')
    expect(readFileSync(path.join(dir, 'undone'), 'utf8')).toBe('0\n')
  })

  it('with no settings, undo nothing and name nothing', () => {
    const { out } = run(scratch({}), [], 'fleet_undo_settings && fleet_kept_note && echo done')
    expect(out).toBe('done\n')
  })
})
