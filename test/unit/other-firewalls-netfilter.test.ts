// The facts script and its parser together, against a real netfilter: a scratch network namespace
// (root, as CI has) holding a legacy rule, an empty legacy table and native nftables tables.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { changeOf } from '../../src/plan/change.ts'
import { readFacts } from '../../src/apply/host-facts.ts'
import { loadBaselines, readInventory } from '../../src/cli/load.ts'
import { factsStep } from '../../src/remote/read-scripts.ts'
import { parseSections } from '../../src/remote/sections.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')

describe('other firewalls, read by the facts script from a real netfilter', async () => {
  const inventory = readInventory(path.join(ROOT, 'inventory/example.yaml'))
  const web01 = changeOf((await loadBaselines(inventory, inventory.hosts)).find((b) => b.host.name === 'web01')!)
  const factsAfter = (setup: string) => {
    const step = factsStep(web01)
    return readFacts(web01, parseSections(execFileSync('unshare', ['--net', 'sh', '-s'], { input: `${setup}\n${step.script}`, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }), step.marks))
  }

  it('finds nothing on a clean host, nor in empty legacy tables or an accept-all nftables table', () => {
    const facts = factsAfter("iptables-legacy -L >/dev/null; ip6tables-legacy -t raw -L >/dev/null; nft 'add table inet filter; add chain inet filter input { type filter hook input priority 0; policy accept; }'")
    expect(facts.backend).toBe('nf_tables')
    expect(facts.others).toEqual([])
    expect(facts.warnings).toEqual([])
  })

  it('finds a legacy rule, a legacy DROP policy and a native table that drops', () => {
    const facts = factsAfter(
      "iptables-legacy -A INPUT -s 198.51.100.66 -j DROP; ip6tables-legacy -P FORWARD DROP; nft 'add table inet filter; add chain inet filter input { type filter hook input priority 0; policy drop; }'",
    )
    expect(facts.others).toEqual([
      { source: 'iptables-legacy', table: 'filter', chain: 'INPUT', line: '-A INPUT -s 198.51.100.66/32 -j DROP' },
      { source: 'ip6tables-legacy', table: 'filter', chain: 'FORWARD', line: '-P FORWARD DROP' },
      { source: 'nftables', table: 'inet filter', chain: 'input', line: 'hook input priority 0, policy drop, 0 rules' },
    ])
  })
})
