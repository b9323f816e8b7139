// The rendered rulesets load into a real netfilter: iptables-restore --test, and a real restore,
// in a scratch network namespace (needs root, as CI has), so the host's own tables are untouched.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadBaselines, readInventory } from '../../src/cli/load.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')

function inScratchNetns(script: string, input: string): string {
  return execFileSync('unshare', ['--net', 'sh', '-c', script], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })
}

describe('rendered rulesets in a real netfilter', async () => {
  const inventory = readInventory(path.join(ROOT, 'inventory/example.yaml'))
  const baselines = await loadBaselines(inventory, inventory.hosts)
  const byRole = new Map(baselines.map((b) => [b.host.role, b]))

  it.each([...byRole.keys()])('the %s ruleset passes iptables-restore --test and loads', (role) => {
    const document = byRole.get(role)!.document
    expect(() => inScratchNetns('iptables-restore --test', document)).not.toThrow()
    const saved = inScratchNetns('iptables-restore && iptables-save', document)
    const rules = document.split('\n').filter((l) => l.startsWith('-A ')).length
    expect(saved.split('\n').filter((l) => l.startsWith('-A '))).toHaveLength(rules)
  })

  it.each([...byRole.keys()])('the %s IPv6 ruleset passes ip6tables-restore --test and loads', (role) => {
    const document = byRole.get(role)!.document6!
    expect(document).toContain('-A INPUT -j DROP')
    expect(() => inScratchNetns('ip6tables-restore --test', document)).not.toThrow()
    const saved = inScratchNetns('ip6tables-restore && ip6tables-save', document)
    expect(saved.split('\n').filter((l) => l.startsWith('-A ')).length).toBe(document.split('\n').filter((l) => l.startsWith('-A ')).length)
  })

  it('a broken ruleset is rejected (the check can fail)', () => {
    const broken = byRole.get('router')!.document.replace('-j NOTRACK', '-m nosuchmatch -j NOTRACK')
    expect(() => inScratchNetns('iptables-restore --test', broken)).toThrow()
  })
})
