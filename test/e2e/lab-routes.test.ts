// The lab must never hide the outside world: while it is up, the package registries, the uplink
// and the DNS server are still reached through the machine's own uplink, and no lab route or lab
// namespace covers an address outside the lab's ranges. Checked from the routing tables only
// (`ip route get` sends nothing).
import { execFileSync } from 'node:child_process'
import { lookup } from 'node:dns/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { labDown, labUp } from '../helpers/lab.ts'

const LAB_V4 = ['198.51.100.0/24', '198.18.0.0/24']
const LAB_V6_PREFIX = '2001:db8:' // 2001:db8::/32
const OUTSIDE = ['203.0.113.1', '203.0.113.200', '192.0.2.1', '10.0.0.1', '10.255.255.254', '8.8.8.8']

interface Route {
  readonly dst: string
  readonly dev?: string
  readonly type?: string
  readonly gateway?: string
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' })
}

function routes(family: '-4' | '-6', netns?: string): Route[] {
  const prefix = netns ? ['-n', netns] : []
  return JSON.parse(ip(...prefix, '-j', family, 'route', 'show', 'table', 'all')) as Route[]
}

function v4ToInt(a: string): number {
  return a.split('.').reduce((n, part) => n * 256 + Number(part), 0)
}

function insideV4(dst: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/') as [string, string]
  const [addr, len = '32'] = dst.split('/') as [string, string?]
  if (Number(len) < Number(bits)) return false
  const size = 2 ** (32 - Number(bits))
  return Math.floor(v4ToInt(addr) / size) === Math.floor(v4ToInt(net) / size)
}

const inLabV4 = (dst: string) => LAB_V4.some((cidr) => insideV4(dst, cidr))
// Link-local and multicast routes exist on every interface and lead nowhere outside.
const inLabV6 = (dst: string) => dst.startsWith(LAB_V6_PREFIX) || /^(fe80|ff00)::/.test(dst)

// Where this machine sends a packet for `address`, without sending one.
function routeTo(address: string): { dev?: string; type?: string } {
  const [route] = JSON.parse(ip('-j', 'route', 'get', address)) as { dev?: string; type?: string }[]
  return route ?? {}
}

async function registryAddresses(): Promise<string[]> {
  const found: string[] = []
  for (const host of ['registry.npmjs.org', 'deb.debian.org']) {
    try {
      found.push(...(await lookup(host, { all: true, family: 4 })).map((r) => r.address))
    } catch {
      // No resolver answer here (an offline machine): the fixed addresses below still stand in.
    }
  }
  return found
}

const uplinkDev = () => routeTo('192.0.2.1').dev

beforeAll(() => labUp('--servers', '2', '--wan-servers', '2'))
afterAll(() => labDown())

describe('the lab leaves the outside world alone', () => {
  it('routes the registries, the uplink and the DNS range out of the uplink, not into the lab', async () => {
    const uplink = uplinkDev()
    for (const address of [...OUTSIDE, ...(await registryAddresses())]) {
      const route = routeTo(address)
      expect({ address, type: route.type, dev: route.dev }).toEqual({ address, type: undefined, dev: uplink })
    }
  })

  it("adds no route in the operator's namespace outside the lab's ranges", () => {
    const lab4 = routes('-4').filter((r) => r.dev === 'fleetwan' || r.type === 'unreachable')
    const lab6 = routes('-6').filter((r) => r.dev === 'fleetwan' || r.type === 'unreachable')
    expect(lab4.length).toBeGreaterThan(0)
    expect(lab4.filter((r) => !inLabV4(r.dst)).map((r) => r.dst)).toEqual([])
    expect(lab6.filter((r) => !inLabV6(r.dst)).map((r) => r.dst)).toEqual([])
    expect(lab4.find((r) => r.type === 'unreachable')?.dst).toBe('198.18.0.0/24')
  })

  it('gives no lab host a route out of the lab', () => {
    const namespaces = ip('netns', 'list').split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('fleet-'))
    expect(namespaces).toContain('fleet-router01')
    for (const ns of namespaces) {
      for (const r of routes('-4', ns)) {
        const ok = r.dst === 'default' ? inLabV4(r.gateway ?? '') : r.type === 'local' || r.type === 'broadcast' || inLabV4(r.dst) || r.dst.startsWith('127.')
        expect({ ns, route: r, ok }).toMatchObject({ ok: true })
      }
      for (const r of routes('-6', ns)) {
        const ok = r.dst === 'default' ? (r.gateway ?? '').startsWith(LAB_V6_PREFIX) : r.type === 'local' || r.type === 'multicast' || inLabV6(r.dst) || r.dst === '::1'
        expect({ ns, route: r, ok }).toMatchObject({ ok: true })
      }
    }
  })
})
