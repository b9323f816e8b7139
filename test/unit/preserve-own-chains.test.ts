// A role's own chains are never swallowed by a preserve pattern: fleet's default patterns give way
// to the role, an inventory pattern that names a role's chain (or a builtin chain) is bad input.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadBaselines, readInventory } from '../../src/cli/load.ts'
import { parseSave } from '../../src/plan/normal-form.ts'
import { splitPreserved } from '../../src/plan/preserve.ts'
import { fleet } from '../helpers/cli.ts'

const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-own-chains-'))
mkdirSync(path.join(dir, 'roles'))
// A Docker host whose role filters containers' traffic in DOCKER-USER, as Docker's manual says to.
writeFileSync(
  path.join(dir, 'roles/docker-host.ts'),
  `export default {
  description: 'a Docker host that filters containers in DOCKER-USER',
  tasks({ task }) {
    return [
      task('filter what containers are reached from', async ($) => {
        await $\`iptables -N DOCKER-USER\`
        await $\`iptables -A DOCKER-USER -s 198.51.100.66 -j DROP\`
        await $\`iptables -A DOCKER-USER -j RETURN\`
        await $\`iptables -A FORWARD -j DOCKER-USER\`
      }),
    ]
  },
}
`,
)

function inventory(name: string, preserve?: string): string {
  const file = path.join(dir, `${name}.yaml`)
  writeFileSync(file, `roles:\n  path: [./roles]\nhosts:\n  docker01:\n    address: 198.51.100.20\n    role: docker-host\n${preserve ? `    preserve: ${preserve}\n` : ''}`)
  return file
}

describe("a role's own chains", () => {
  it("are not preserved by fleet's default patterns (DOCKER-* and the role's DOCKER-USER)", async () => {
    const inv = readInventory(inventory('default'))
    const [baseline] = await loadBaselines(inv, inv.hosts)
    // What an apply loads: the role's chain, its rules and the jump to it are fleet's to write.
    const { kept, preserved } = splitPreserved(parseSave(baseline!.document), baseline!.host.preserve)
    expect(preserved.size).toBe(0)
    expect(kept.get('filter')?.lines).toEqual(expect.arrayContaining([':DOCKER-USER -', '-A FORWARD -j DOCKER-USER', '-A DOCKER-USER -s 198.51.100.66 -j DROP']))
    // Docker's other chains are still kept as they are on the host.
    const live = parseSave('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\n-A FORWARD -o docker0 -j DOCKER\n-A DOCKER-USER -j RETURN\nCOMMIT\n')
    expect(splitPreserved(live, baseline!.host.preserve).preserved.get('filter')).toEqual([':DOCKER -', '-A FORWARD -o docker0 -j DOCKER'])
  })

  it('a "!NAME" entry is never preserved, whatever the patterns say', () => {
    const live = parseSave('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n:DOCKER-USER - [0:0]\n-A FORWARD -j DOCKER-USER\nCOMMIT\n')
    expect(splitPreserved(live, ['DOCKER*', '!DOCKER-USER']).preserved.get('filter')).toEqual([':DOCKER -'])
  })

  it('a pattern of the inventory that matches one is bad input, at the pattern', async () => {
    const file = inventory('explicit', "[DOCKER, 'DOCKER-*']")
    const result = await fleet(['apply', '--inventory', file, '--dry-run'])
    expect(result.code).toBe(2)
    expect(result.stderr).toBe(
      `fleet: ${file}:7:24: hosts.docker01.preserve.1: "DOCKER-*" matches DOCKER-USER, a chain role docker-host declares; a role's own chains are never preserved: narrow the pattern or add "!DOCKER-USER"`,
    )
  })

  it('is fine when the inventory excludes it', async () => {
    const result = await fleet(['apply', '--inventory', inventory('excluded', "[DOCKER, 'DOCKER-*', '!DOCKER-USER']"), '--dry-run'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('-A DOCKER-USER -s 198.51.100.66 -j DROP')
  })
})

describe('a preserve pattern that matches a builtin chain', () => {
  it.each([
    ["['*']", '*', 'PREROUTING'],
    ["[DOCKER, INPUT]", 'INPUT', 'INPUT'],
    ["['*ROUTING']", '*ROUTING', 'PREROUTING'],
    ["['?UTPUT']", '?UTPUT', 'OUTPUT'],
  ])('preserve: %s is bad input', async (list, pattern, chain) => {
    const file = inventory('builtin', list)
    const result = await fleet(['apply', '--inventory', file, '--dry-run'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(new RegExp(`^fleet: ${file}:7:\\d+: hosts\\.docker01\\.preserve\\.\\d: "${pattern.replace(/[*?]/g, '\\$&')}" matches the builtin chain ${chain}, which fleet always writes; name the chains of the software to keep, like DOCKER-\\* or f2b-\\*$`))
  })
})
