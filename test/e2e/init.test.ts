// fleet init against the lab's router: it reads the router read-only, writes an inventory that
// fleet applies as it is, and never writes over a file without --force.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadInventory } from '../../src/inventory/load.ts'
import { fleet } from '../helpers/cli.ts'
import { KNOWN_HOSTS, LAB, labDown, labUp, onHost, OPERATOR_KEY, rulesetOf } from '../helpers/lab.ts'

let dir: string
const init = (...args: string[]) => fleet(['init', '--router', 'root@198.51.100.2', '--identity', OPERATOR_KEY, '--known-hosts', KNOWN_HOSTS, ...args])

beforeAll(() => {
  labUp()
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
  dir = mkdtempSync(path.join(LAB, 'init-'))
  // The router has just talked to both servers, as a router in use has: they are in its neighbour table.
  const neighbours = onHost('router01', 'for s in 11 12; do curl -s -m 2 -o /dev/null http://198.18.0.$s/; done; ip neigh show dev eth1').stdout
  expect(neighbours).toMatch(/198\.18\.0\.11 lladdr \S+ REACHABLE/)
  expect(neighbours).toMatch(/198\.18\.0\.12 lladdr \S+ REACHABLE/)
})
afterAll(() => labDown())

describe('fleet init', () => {
  it("fills the seed's blanks from the router, read-only, and explains its guesses", async () => {
    const before = rulesetOf('router01')
    const result = await init()
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const inventory = loadInventory(result.stdout, path.join(dir, 'printed.yaml'))
    expect(inventory.hosts.map((h) => [h.name, h.role, h.address, h.jump])).toEqual([
      ['router01', 'router', '198.51.100.2', undefined],
      ['srv-198-18-0-11', 'internal-server', '198.18.0.11', 'router01'],
      ['srv-198-18-0-12', 'internal-server', '198.18.0.12', 'router01'],
    ])
    expect(inventory.hosts[0]!.network).toMatchObject({
      internal: '198.18.0.0/24',
      internal6: '2001:db8:0:2::/64',
      wan: { interface: 'eth0', address: '198.51.100.2' },
      lan: { interface: 'eth1' },
      services: { tcp: expect.arrayContaining([22, 80, 443]) },
      untracked: { tcp: [80, 443] },
    })
    expect(result.stdout).toContain('# WAN: the default route via 198.51.100.254 leaves through eth0, from 198.51.100.2')
    expect(result.stdout).toContain("# Internal servers: 2 hosts in router01's neighbour table on eth1")
    expect(rulesetOf('router01')).toBe(before)
  })

  it('writes -o FILE, never over an existing file without --force', async () => {
    const file = path.join(dir, 'inventory.yaml')
    expect((await init('-o', file)).code).toBe(0)
    const written = readFileSync(file, 'utf8')
    writeFileSync(file, '# mine\n')
    const refused = await init('-o', file)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('the file exists; fleet init never writes over it without --force')
    expect(readFileSync(file, 'utf8')).toBe('# mine\n')
    expect((await init('-o', file, '--force')).code).toBe(0)
    expect(readFileSync(file, 'utf8').replace(/on \S+Z,/, '')).toBe(written.replace(/on \S+Z,/, ''))
  })

  it('its inventory is applied as it is: every host changed, then in sync', async () => {
    const file = path.join(dir, 'inventory.yaml')
    const applied = await fleet(['apply', '-i', file])
    expect(applied.stdout).toMatch(/applied 3 hosts: 3 changed/)
    expect(applied.code).toBe(0)
    expect(rulesetOf('router01')).toContain('-A POSTROUTING -o eth0 -j MASQUERADE')
    expect(rulesetOf('web01')).toContain('-A INPUT -s 198.18.0.0/24 -j ACCEPT')
    expect((await fleet(['audit', '-i', file])).code).toBe(0)
  })

  it("refuses a router whose host key it does not know, unless told to trust new keys", async () => {
    const empty = path.join(dir, 'empty_known_hosts')
    writeFileSync(empty, '')
    const refused = await fleet(['init', '--router', 'root@198.51.100.2', '--identity', OPERATOR_KEY, '--known-hosts', empty])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^fleet init: root@198\.51\.100\.2: .*(not in|unknown)/i)
    expect(refused.stdout).toBe('')
    const trusted = await fleet(['init', '--router', 'root@198.51.100.2', '--identity', OPERATOR_KEY, '--known-hosts', empty, '--accept-new-host-keys'])
    expect(trusted.code).toBe(0)
    expect(readFileSync(empty, 'utf8')).toContain('198.51.100.2')
  })
})
