// The benchmark is not a test (no timing is asserted anywhere); this only proves it runs, at a
// tiny size, and prints every figure it promises.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/lab.ts'

describe('npm run bench', () => {
  it('measures every contender against its floor and prints the table', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/bench.ts'), '--hosts', '4', '--reps', '1', '--scale', '0', '--dry-run-hosts', '10', '--linear-hosts', '20'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 300_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    for (const row of ['floor: ssh iptables-restore', 'fleet apply --no-confirm', 'fleet apply (confirmed)', 'floor: ssh iptables-save', 'fleet apply, nothing to change', 'fleet audit']) {
      expect(out).toContain(row)
    }
    expect(out).toMatch(/fleet apply --no-confirm\s+[\d.]+ s\s+[\d.]+ ms\/host\s+[\d.]+x floor \(target <= 1\.5x/)
    expect(out).toMatch(/peak memory of the fleet process: \d+ MB/)
    expect(out).toMatch(/dry run of 10 hosts \(offline\): [\d.]+ s/)
    expect(out).toMatch(/load \(inventory \+ baselines\)\s+20: [\d.]+ s\s+200: [\d.]+ s\s+[\d.]+x \(linear: 10x/)
    expect(out).toMatch(/fleet apply --dry-run\s+20: [\d.]+ s\s+200: [\d.]+ s\s+[\d.]+x .*peak memory \d+ \/ \d+ MB/)
  }, 300_000)
})
