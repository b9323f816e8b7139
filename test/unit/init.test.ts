// fleet init's pure part: a router's outputs -> guesses -> inventory text. The fixtures were
// captured on Debian 12 (iproute2 6.1): test/fixtures/init/lab-* from the lab's router01 after it
// talked to web01 and web02; veth-* from a scratch namespace shaped like the seed's router (eth0
// WAN, eth1 LAN, a docker0 that is down, listeners on every address, the WAN address, the LAN
// address and loopback; neighbours in every state).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { guessRouter } from '../../src/init/guess.ts'
import { inventoryText } from '../../src/init/inventory-text.ts'
import { parseListeners, parseRouterFacts, routerOutputs, routerReadStep, type RouterOutputs } from '../../src/init/router-facts.ts'
import { loadInventory } from '../../src/inventory/load.ts'
import { fleet } from '../helpers/cli.ts'

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, '../fixtures/init', name), 'utf8')
const veth: RouterOutputs = {
  hostname: 'gw1\n',
  addr: fixture('veth-addr.json'),
  route: fixture('veth-route.json'),
  route6: fixture('veth-route6.json'),
  neigh: fixture('veth-neigh.json'),
  listen: fixture('veth-ss.txt'),
}
const lab: RouterOutputs = {
  hostname: fixture('lab-hostname.txt'),
  addr: fixture('lab-addr.json'),
  route: fixture('lab-route.json'),
  route6: fixture('lab-route6.json'),
  neigh: fixture('lab-neigh.json'),
  listen: fixture('lab-ss.txt'),
}
const target = { name: 'gw1', address: '198.51.100.2', given: 'root@198.51.100.2', nameWhy: "the router's hostname" }
const ssh = { user: 'root', identity: 'keys/id_ed25519', knownHosts: 'keys/known_hosts' }

describe('what fleet init reads', () => {
  it('is read-only and runs each command once', () => {
    const script = routerReadStep().script
    expect(script.match(/^(hostname|ip -j addr|ip -j route|ip -j -6 route|ip -j neigh|ss -Hltn) 2>\/dev\/null$/gm)).toHaveLength(6)
  })

  it('names the command that failed and what fleet init needs', () => {
    const marks = { nonce: 'f00d' }
    expect(() => routerOutputs('@@fleet f00d hostname\ngw1\n@@fleet-status f00d hostname 0\n@@fleet f00d addr\n@@fleet-status f00d addr 255\n', marks)).toThrow(
      /`ip -j addr` failed on the router \(exit 255\); fleet init needs iproute2 with JSON output/,
    )
  })

  it('parses every form of listening address ss prints', () => {
    const ss = 'LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\nLISTEN 0 128 [::]:22 [::]:*\nLISTEN 0 4096 127.0.0.53%lo:53 0.0.0.0:*\nLISTEN 0 5 [::1]:631 [::]:*\nLISTEN 0 5 [2001:db8:0:1::2]:8443 [::]:*\nLISTEN 0 5 *:2222 *:*\n'
    expect(parseListeners(ss)).toEqual([
      { address: '*', port: 22 },
      { address: '*', port: 22 },
      { address: '127.0.0.1', port: 53 },
      { address: '::1', port: 631 },
      { address: '2001:db8:0:1::2', port: 8443 },
      { address: '*', port: 2222 },
    ])
  })

  it('keeps nothing the router could use to inject text: values that fail validation are dropped', () => {
    const facts = parseRouterFacts({
      ...veth,
      hostname: 'gw1\nhosts: {}',
      neigh: JSON.stringify([{ dst: '198.18.0.11\n  evil: 1', dev: 'eth1', state: ['REACHABLE'] }, { dst: '198.18.0.12', dev: 'eth1; reboot', state: ['REACHABLE'] }]),
    })
    expect(facts.hostname).toBeUndefined()
    expect(facts.neighbours).toEqual([])
  })
})

describe('the guesses', () => {
  const guess = guessRouter(parseRouterFacts(veth), 22)

  it('WAN: the default route, its interface and source address', () => {
    expect(guess.wan).toEqual({ interface: 'eth0', gateway: '198.51.100.254', address: '198.51.100.2', why: 'the default route via 198.51.100.254 leaves through eth0, from 198.51.100.2' })
  })

  it('LAN: the connected network on another interface, with its IPv6 prefix', () => {
    expect(guess.lan).toMatchObject({ interface: 'eth1', internal: '198.18.0.0/24', internal6: '2001:db8:0:2::/64' })
  })

  it('services: every-address and WAN listeners, not loopback nor the LAN only; the web ports untracked', () => {
    expect(guess.services).toEqual([22, 80, 2222])
    expect(guess.notExposed).toEqual(['53 on 198.18.0.1'])
    expect(guess.untracked).toEqual([80])
  })

  it('servers: reachable and stale LAN neighbours; not failed, permanent, link-local, IPv6 or the gateway', () => {
    expect(guess.servers).toEqual([
      { name: 'srv-198-18-0-11', address: '198.18.0.11' },
      { name: 'srv-198-18-0-12', address: '198.18.0.12' },
    ])
  })

  it('always keeps the port the operator came in on', () => {
    expect(guessRouter(parseRouterFacts({ ...veth, listen: '' }), 2022).services).toEqual([2022])
  })

  it('a router without a default route: the WAN is left to fill in, and said so', () => {
    const noDefault = guessRouter(parseRouterFacts({ ...veth, route: JSON.stringify(JSON.parse(veth.route).filter((r: { dst: string }) => r.dst !== 'default')) }), 22)
    expect(noDefault.wan).toBeUndefined()
    expect(noDefault.missing).toEqual(['network.wan (no default route on the router)'])
    // Without a WAN to exclude, the WAN's own connected network competes; the LAN has the neighbours.
    expect(noDefault.lan?.interface).toBe('eth1')
  })

  it('says when the WAN address is private: the router is behind NAT itself', () => {
    const natted = guessRouter(parseRouterFacts({ ...veth, addr: veth.addr.replaceAll('198.51.100.2', '192.168.1.2'), route: veth.route.replaceAll('198.51.100', '192.168.1') }), 22)
    expect(natted.wan?.why).toContain('192.168.1.2 is a private address, so the router is itself behind NAT')
  })
})

describe("the lab's router01", () => {
  it("gives the values of the lab's own inventory (inventory/lab.yaml), and web01 and web02", () => {
    const facts = parseRouterFacts(lab)
    const guess = guessRouter(facts, 22)
    expect(facts.hostname).toBe('router01')
    expect([guess.wan?.interface, guess.wan?.address, guess.lan?.interface, guess.lan?.internal, guess.lan?.internal6]).toEqual([
      'eth0',
      '198.51.100.2',
      'eth1',
      '198.18.0.0/24',
      '2001:db8:0:2::/64',
    ])
    expect(guess.services).toEqual([22, 80, 443, 2222])
    expect(guess.untracked).toEqual([80, 443])
    expect(guess.servers.map((s) => s.address)).toEqual(['198.18.0.11', '198.18.0.12'])
    expect(guess.missing).toEqual([])
  })
})

describe('the inventory text', () => {
  const text = inventoryText(target, ssh, guessRouter(parseRouterFacts(veth), 22), '2026-11-29T16:00:00Z')

  it('is a valid inventory: the router and the servers behind it, the shared values as defaults', () => {
    const inventory = loadInventory(text, '/tmp/fleet-init/inventory.yaml')
    expect(inventory.hosts.map((h) => [h.name, h.role, h.address, h.jump])).toEqual([
      ['gw1', 'router', '198.51.100.2', undefined],
      ['srv-198-18-0-11', 'internal-server', '198.18.0.11', 'gw1'],
      ['srv-198-18-0-12', 'internal-server', '198.18.0.12', 'gw1'],
    ])
    expect(inventory.hosts[0]!.network).toEqual({
      internal: '198.18.0.0/24',
      internal6: '2001:db8:0:2::/64',
      interface: 'eth0',
      egress: { tcp: [22, 80, 443], udp: [53] },
      wan: { interface: 'eth0', address: '198.51.100.2' },
      lan: { interface: 'eth1' },
      services: { tcp: [22, 80, 2222], udp: [] },
      untracked: { tcp: [80], udp: [] },
    })
    expect(inventory.hosts[1]!.ssh.defaults).toEqual(ssh)
  })

  it("names fleet's JSON Schema on its first line, where editors (yaml-language-server) look, and passes it", async () => {
    const [first, second] = text.split('\n')
    expect(first).toBe('# yaml-language-server: $schema=./fleet.schema.json')
    expect(second).toBe('# (`fleet schema > fleet.schema.json` beside this file gives your editor the keys and their checks)')
    const schema = JSON.parse((await fleet(['schema'])).stdout)
    const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema)
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true)
  })

  it('explains each guess, and how many neighbours were found and why some may be missing', () => {
    expect(text).toContain('# WAN: the default route via 198.51.100.254 leaves through eth0, from 198.51.100.2')
    expect(text).toContain('# the internal network: eth1 carries the connected network 198.18.0.0/24')
    expect(text).toContain('listening on the LAN only, so not exposed: 53 on 198.18.0.1')
    expect(text).toContain("# Internal servers: 2 hosts in gw1's neighbour table on eth1")
    expect(text).toContain('The table only holds hosts\n  # the router has talked to in the last minutes')
  })

  it('matches the golden file', () => {
    const golden = path.join(import.meta.dirname, '../golden/init/veth.yaml')
    if (process.env.UPDATE_GOLDEN) {
      mkdirSync(path.dirname(golden), { recursive: true })
      writeFileSync(golden, text)
    }
    expect(text).toBe(readFileSync(golden, 'utf8'))
  })
})

describe('fleet init, bad input: exit 2 before connecting to anything', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-init-'))
  const existing = path.join(dir, 'mine.yaml')
  writeFileSync(existing, '# mine\n')
  const includer = path.join(dir, 'ssh_config')
  writeFileSync(includer, `Host *\n  Include ${dir}\n`)
  it.each([
    ['a router that is not USER@ADDRESS', ['--router', 'root@gw;reboot'], /--router root@gw;reboot: expected USER@ADDRESS .*got "gw;reboot"/],
    ['a user name that is not one', ['--router', 'Root Admin@198.51.100.2'], /--router Root Admin@198\.51\.100\.2: expected USER@ADDRESS .*expected a user name/],
    ['an existing -o file without --force', ['--router', 'root@198.51.100.2', '-o', existing], /the file exists; fleet init never writes over it without --force/],
    ['an -o file in a folder that does not exist', ['--router', 'root@198.51.100.2', '-o', path.join(dir, 'nope/inventory.yaml')], /no folder .*nope to write it in/],
    ['a port out of range', ['--router', 'root@198.51.100.2', '-p', '70000'], /--port 70000: expected a whole number from 1 to 65535/],
    // The inventory init connects with is only in memory: no line of it is named.
    ['an --ssh-config that is a directory', ['--router', 'root@198.51.100.2', '--ssh-config', dir], new RegExp(`^fleet: host 198\\.51\\.100\\.2: ssh_config ${dir}: is a directory, not an ssh_config file$`)],
    ['an Include of a directory', ['--router', 'root@198.51.100.2', '--ssh-config', includer], new RegExp(`^fleet: host 198\\.51\\.100\\.2: ssh_config ${includer}:2: Include ${dir}: ${dir} is a directory; Include reads files`)],
  ])('%s', async (_what, args, message) => {
    const result = await fleet(['init', ...args])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(message)
    expect(result.stdout).toBe('')
    expect(readFileSync(existing, 'utf8')).toBe('# mine\n')
  })
})
