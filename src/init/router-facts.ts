// What `fleet init` reads from a router, parsed: interfaces and addresses (`ip -j addr`), routes
// (`ip -j route`, `ip -j -6 route`), listening TCP sockets (`ss -Hltn`) and the neighbour table
// (`ip -j neigh`). All of it is text the router controls: only values that pass fleet's own
// validators (src/net/values.ts) are kept, so nothing else can reach the inventory written from it.
import { checkCidr, checkCidr6, checkHostName, checkInterface, checkIPv4, checkIPv6 } from '../net/values.ts'
import type { ReadStep } from '../remote/step.ts'
import { newMarks, parseSections, section, type Marks } from '../remote/sections.ts'

export interface Address {
  readonly address: string
  readonly prefix: number
}

export interface Interface {
  readonly name: string
  readonly v4: readonly Address[]
}

export interface Route {
  // A network in CIDR form, or "default".
  readonly dst: string
  readonly dev: string
  readonly gateway?: string
  readonly prefsrc?: string
  readonly protocol?: string
  readonly scope?: string
  readonly metric: number
  // "linkdown": the interface has no carrier (a bridge with nothing on it, a cable out).
  readonly flags: readonly string[]
}

export interface Neighbour {
  readonly address: string
  readonly dev: string
  readonly state: readonly string[]
}

export interface Listener {
  // "*" for every address (0.0.0.0, [::], *), else the address as ss prints it, unbracketed.
  readonly address: string
  readonly port: number
}

export interface RouterFacts {
  // Absent when the router's hostname is not a valid inventory host name.
  readonly hostname?: string
  readonly interfaces: readonly Interface[]
  readonly routes: readonly Route[]
  readonly routes6: readonly Route[]
  readonly neighbours: readonly Neighbour[]
  readonly listeners: readonly Listener[]
}

// The raw outputs, by the name of the section that read them.
export interface RouterOutputs {
  readonly hostname: string
  readonly addr: string
  readonly route: string
  readonly route6: string
  readonly neigh: string
  readonly listen: string
}

const COMMANDS: Record<keyof RouterOutputs, string> = {
  hostname: 'hostname',
  addr: 'ip -j addr',
  route: 'ip -j route',
  route6: 'ip -j -6 route',
  neigh: 'ip -j neigh',
  listen: 'ss -Hltn',
}

// Read-only, and nothing that needs root.
export function routerReadStep(): ReadStep {
  const marks = newMarks()
  return {
    title: "read the router's interfaces, routes, listening sockets and neighbours",
    script: Object.entries(COMMANDS).map(([name, command]) => section(marks, name, `${command} 2>/dev/null`)).join('\n'),
    marks,
  }
}

export function routerOutputs(stdout: string, marks: Marks): RouterOutputs {
  const sections = parseSections(stdout, marks)
  const read = (name: keyof RouterOutputs) => {
    const status = sections.status.get(name)
    if (status !== 0) {
      throw new Error(`\`${COMMANDS[name]}\` failed on the router (${status === undefined ? 'no output' : `exit ${status}`}); fleet init needs iproute2 with JSON output (ip -j) and ss`)
    }
    return sections.text.get(name) ?? ''
  }
  return { hostname: read('hostname'), addr: read('addr'), route: read('route'), route6: read('route6'), neigh: read('neigh'), listen: read('listen') }
}

type Json = Record<string, unknown>

function jsonList(text: string, what: string): Json[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text.trim() === '' ? '[]' : text)
  } catch (error) {
    throw new Error(`cannot read ${what} (${(error as Error).message}); fleet init needs iproute2 with JSON output (ip -j)`)
  }
  if (!Array.isArray(parsed)) throw new Error(`cannot read ${what}: expected a JSON list`)
  return parsed.filter((x): x is Json => typeof x === 'object' && x !== null)
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const ok = (check: (v: string) => string | null, v: unknown): v is string => typeof v === 'string' && check(v) === null

export function parseInterfaces(text: string): Interface[] {
  return jsonList(text, '`ip -j addr`').flatMap((link) => {
    if (!ok(checkInterface, link.ifname)) return []
    const info = Array.isArray(link.addr_info) ? (link.addr_info as Json[]) : []
    const v4 = info
      .filter((a) => a.family === 'inet' && a.scope === 'global' && ok(checkIPv4, a.local) && typeof a.prefixlen === 'number')
      .map((a) => ({ address: a.local as string, prefix: a.prefixlen as number }))
    return [{ name: link.ifname, v4 }]
  })
}

function parseRoutes(text: string, what: string, checkNetwork: (v: string) => string | null, checkHost: (v: string) => string | null): Route[] {
  return jsonList(text, what).flatMap((r) => {
    const dst = str(r.dst)
    if (!ok(checkInterface, r.dev) || dst === undefined) return []
    if (dst !== 'default' && !(checkNetwork(dst) === null || checkHost(dst) === null)) return []
    return [
      {
        dst,
        dev: r.dev,
        ...(ok(checkHost, r.gateway) && { gateway: r.gateway }),
        ...(ok(checkHost, r.prefsrc) && { prefsrc: r.prefsrc }),
        ...(str(r.protocol) !== undefined && { protocol: str(r.protocol)! }),
        ...(str(r.scope) !== undefined && { scope: str(r.scope)! }),
        metric: typeof r.metric === 'number' ? r.metric : 0,
        flags: Array.isArray(r.flags) ? r.flags.filter((f): f is string => typeof f === 'string') : [],
      },
    ]
  })
}

export function parseNeighbours(text: string): Neighbour[] {
  return jsonList(text, '`ip -j neigh`').flatMap((n) =>
    ok(checkIPv4, n.dst) && ok(checkInterface, n.dev)
      ? [{ address: n.dst, dev: n.dev, state: Array.isArray(n.state) ? n.state.filter((s): s is string => typeof s === 'string') : [] }]
      : [],
  )
}

// `ss -Hltn`: "LISTEN 0 128 0.0.0.0:22 0.0.0.0:*", "[::]:22", "*:22", "127.0.0.53%lo:53".
export function parseListeners(text: string): Listener[] {
  return text.split('\n').flatMap((line) => {
    const local = line.trim().split(/\s+/)[3]
    const m = local === undefined ? null : /^(.*):(\d+)$/.exec(local)
    if (!m) return []
    const port = Number(m[2])
    if (!(port >= 1 && port <= 65535)) return []
    const host = m[1]!.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '')
    const scoped = /%/.test(m[1]!) ? m[1]!.replace(/^.*%/, '').replace(/\]$/, '') : undefined
    const address = host === '0.0.0.0' || host === '::' || host === '*' ? '*' : host
    // Bound to one interface ("%lo"): loopback by name, however it is addressed.
    if (scoped === 'lo') return [{ address: '127.0.0.1', port }]
    return address === '*' || checkIPv4(address) === null || checkIPv6(address) === null ? [{ address, port }] : []
  })
}

export function parseRouterFacts(out: RouterOutputs): RouterFacts {
  const hostname = out.hostname.trim()
  return {
    ...(checkHostName(hostname) === null && { hostname }),
    interfaces: parseInterfaces(out.addr),
    routes: parseRoutes(out.route, '`ip -j route`', checkCidr, checkIPv4),
    routes6: parseRoutes(out.route6, '`ip -j -6 route`', checkCidr6, checkIPv6),
    neighbours: parseNeighbours(out.neigh),
    listeners: parseListeners(out.listen),
  }
}
