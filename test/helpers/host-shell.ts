// Runs fleet's host-side shell for real, under /bin/sh (dash on Debian), against a scratch state
// directory instead of /var/lib/fleet.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { STATE_DIR } from '../../src/remote/host-state.ts'

export function scratchState(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-state-'))
  for (const sub of ['saved', 'history', 'armed']) mkdirSync(path.join(dir, sub))
  return dir
}

export function hostShell(dir: string, script: string): { out: string; err: string; code: number } {
  const r = spawnSync('/bin/sh', ['-s'], { input: script.replaceAll(`S=${STATE_DIR}`, `S=${dir}`), encoding: 'utf8' })
  return { out: r.stdout, err: r.stderr, code: r.status ?? -1 }
}
