// A host whose IPv6 is up but that has no ip6tables tools (Alpine ships them in a package of their
// own), or no iptables at all: the facts script run for real in a scratch network and mount
// namespace (root, as CI has), where Debian's alternatives for those tools are gone. fleet must say
// which tool is missing and what to do, not that "ip6tables rejects the new IPv6 ruleset".
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { changeOf } from '../../src/plan/change.ts'
import { readFacts } from '../../src/apply/host-facts.ts'
import { loadBaselines, readInventory } from '../../src/cli/load.ts'
import { factsStep } from '../../src/remote/read-scripts.ts'
import { parseSections } from '../../src/remote/sections.ts'
import { HostError } from '../../src/remote/transport.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')

describe('iptables tools missing, read by the facts script', async () => {
  const inventory = readInventory(path.join(ROOT, 'inventory/example.yaml'))
  const web01 = changeOf((await loadBaselines(inventory, inventory.hosts)).find((b) => b.host.name === 'web01')!)
  // The facts of a host without the named tools: /etc/alternatives, in this namespace only (a tmpfs
  // over it), without their entries; iptables-save and the others stay. Checked to be gone.
  const factsWithout = (tools: readonly string[]) => {
    const copy = `/run/fleet-test-alternatives-${process.pid}`
    const hide = [
      `set -e; mkdir ${copy}; cp -a /etc/alternatives/. ${copy}/; rm ${tools.map((t) => `${copy}/${t}`).join(' ')}`,
      `mount -t tmpfs fleet-test /etc/alternatives; cp -a ${copy}/. /etc/alternatives/; rm -r ${copy}`,
      ...tools.map((t) => `! command -v ${t} >/dev/null`),
      'set +e',
    ].join('\n')
    const step = factsStep(web01)
    const stdout = execFileSync('unshare', ['--net', '--mount', '--propagation', 'private', 'sh', '-s'], { input: `${hide}\n${step.script}`, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })
    return () => readFacts(web01, parseSections(stdout, step.marks))
  }
  const advice =
    'nothing changed. Install ip6tables on the host (Debian, Ubuntu: apt install iptables, which carries both; Alpine: apk add ip6tables), ' +
    'or give the host a role of your own without ip6tables lines: fleet then manages its IPv4 ruleset only and leaves IPv6 unfiltered'

  it('says that ip6tables-save and ip6tables-restore are missing and what to do', () => {
    const read = factsWithout(['ip6tables', 'ip6tables-save', 'ip6tables-restore'])
    expect(read).toThrow(HostError)
    expect(read).toThrow(
      `IPv6 is up (/proc/net/if_inet6 exists) but ip6tables-save and ip6tables-restore are not installed on this host (not found on its PATH), which fleet needs to compare and load its IPv6 ruleset; ${advice}`,
    )
  })

  it('says as much of iptables itself', () => {
    expect(factsWithout(['iptables', 'iptables-save', 'iptables-restore'])).toThrow(
      'iptables-save and iptables-restore are not installed on this host (not found on its PATH), which fleet needs to read, compare and load its ruleset; nothing changed. ' +
        'Install iptables on the host (Debian, Ubuntu: apt install iptables; Alpine: apk add iptables)',
    )
  })

  it('names the one tool that is missing', () => {
    expect(factsWithout(['ip6tables-restore'])).toThrow(
      `IPv6 is up (/proc/net/if_inet6 exists) but ip6tables-restore is not installed on this host (not found on its PATH), which fleet needs to compare and load its IPv6 ruleset; ${advice}`,
    )
  })
})
