// The operator's copy of every ruleset saved on a host, so a lost host state dir (or a rollback
// dry run) still has it: $XDG_STATE_HOME/fleet/saved/<host>/<id>.v4.
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export function localStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_STATE_HOME || path.join(os.homedir(), '.local/state'), 'fleet')
}

export function saveLocalCopy(host: string, changeId: string, saved: { v4: string; v6?: string }, env: NodeJS.ProcessEnv = process.env): void {
  const dir = path.join(localStateDir(env), 'saved', host)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  writeFileSync(path.join(dir, `${changeId}.v4`), saved.v4, { mode: 0o600 })
  if (saved.v6 !== undefined) writeFileSync(path.join(dir, `${changeId}.v6`), saved.v6, { mode: 0o600 })
}
