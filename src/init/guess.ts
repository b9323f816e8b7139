// The seed's blanks, guessed from what a router reports, each with why: the WAN is where the
// default route leaves, the LAN a connected network on another interface, the services what
// listens beyond loopback, the internal servers the LAN neighbours the router has seen lately.
// Pure; src/init/inventory-text.ts writes the result as a commented inventory.
import { BlockList } from 'node:net'
import type { Interface, Listener, Neighbour, Route, RouterFacts } from './router-facts.ts'

export interface Wan {
  readonly interface: string
  readonly gateway?: string
  // Absent when the WAN interface has no IPv4 address of its own.
  readonly address?: string
  readonly why: string
}

export interface Lan {
  readonly interface: string
  readonly internal: string
  readonly internal6?: string
  readonly why: string
}

export interface Server {
  readonly name: string
  readonly address: string
}

export interface RouterGuess {
  readonly wan?: Wan
  readonly lan?: Lan
  readonly services: readonly number[]
  readonly untracked: readonly number[]
  // Listeners left out of services, and why ("53 on 198.18.0.1 (the LAN only)").
  readonly notExposed: readonly string[]
  readonly servers: readonly Server[]
  // Neighbour states counted as "seen recently".
  readonly neighbourStates: readonly string[]
  // What could not be guessed, for the operator to fill in.
  readonly missing: readonly string[]
}

const SEEN = ['REACHABLE', 'STALE', 'DELAY', 'PROBE']
const WEB = [80, 443]

function inNetwork(address: string, cidr: string): boolean {
  const [network, bits] = cidr.split('/')
  const list = new BlockList()
  list.addSubnet(network!, Number(bits), 'ipv4')
  return list.check(address, 'ipv4')
}

const LINK_LOCAL = '169.254.0.0/16'
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10']

function defaultRoute(routes: readonly Route[]): Route | undefined {
  return routes.filter((r) => r.dst === 'default' && !r.flags.includes('linkdown')).sort((a, b) => a.metric - b.metric)[0]
}

function guessWan(facts: RouterFacts): Wan | undefined {
  const route = defaultRoute(facts.routes)
  if (!route) return undefined
  const own = facts.interfaces.find((i) => i.name === route.dev)?.v4 ?? []
  // The address packets from the router carry out of that interface: the route's preferred
  // source, else the interface's address on the gateway's network, else its first.
  const address =
    route.prefsrc ??
    (route.gateway !== undefined ? own.find((a) => inNetwork(route.gateway!, `${a.address}/${a.prefix}`))?.address : undefined) ??
    own[0]?.address
  const via = route.gateway !== undefined ? ` via ${route.gateway}` : ''
  const nat = address !== undefined && PRIVATE.some((p) => inNetwork(address, p)) ? `; ${address} is a private address, so the router is itself behind NAT` : ''
  return {
    interface: route.dev,
    ...(route.gateway !== undefined && { gateway: route.gateway }),
    ...(address !== undefined && { address }),
    why: `the default route${via} leaves through ${route.dev}${address !== undefined ? `, from ${address}` : ''}${nat}`,
  }
}

function seenOn(neighbours: readonly Neighbour[], dev: string): Neighbour[] {
  return neighbours.filter((n) => n.dev === dev && n.state.some((s) => SEEN.includes(s)))
}

// A connected network on an interface other than the WAN's and loopback; with several, the one
// with the most recently seen neighbours (a tie goes to the first route listed).
function guessLan(facts: RouterFacts, wan: Wan | undefined): Lan | undefined {
  const connected = facts.routes.filter(
    (r) => r.dst.includes('/') && r.scope === 'link' && r.dev !== wan?.interface && r.dev !== 'lo' && !r.flags.includes('linkdown') && !inNetwork(r.dst.split('/')[0]!, LINK_LOCAL),
  )
  if (connected.length === 0) return undefined
  const count = (r: Route) => seenOn(facts.neighbours, r.dev).filter((n) => inNetwork(n.address, r.dst)).length
  const best = connected.reduce((a, b) => (count(b) > count(a) ? b : a))
  const others = connected.filter((r) => r !== best).map((r) => `${r.dst} on ${r.dev}`)
  const prefix6 = facts.routes6.find((r) => r.dev === best.dev && r.dst.includes('/') && !r.dst.toLowerCase().startsWith('fe80:'))?.dst
  return {
    interface: best.dev,
    internal: best.dst,
    ...(prefix6 !== undefined && { internal6: prefix6 }),
    why:
      `${best.dev} carries the connected network ${best.dst}${wan ? `, and is not the WAN` : ''}` +
      (others.length > 0 ? `; also connected: ${others.join(', ')} (chosen: the most neighbours seen)` : ''),
  }
}

function isLoopback(address: string): boolean {
  return address === '::1' || (/^[\d.]+$/.test(address) && inNetwork(address, '127.0.0.0/8'))
}

// Services are what the internet may reach: listeners on every address or on a WAN address.
// One bound to a LAN address only is already reachable from the LAN by the shared INPUT rules.
function guessServices(listeners: readonly Listener[], wanAddresses: readonly string[], sshPort: number): { services: number[]; notExposed: string[] } {
  const exposed = new Set<number>()
  const notExposed = new Map<number, string>()
  for (const l of listeners) {
    if (isLoopback(l.address)) continue
    if (l.address === '*' || wanAddresses.includes(l.address)) exposed.add(l.port)
    else if (!l.address.includes(':')) notExposed.set(l.port, `${l.port} on ${l.address}`)
  }
  // The port the operator came in on must stay open, wherever sshd says it listens.
  exposed.add(sshPort)
  return {
    services: [...exposed].sort((a, b) => a - b),
    notExposed: [...notExposed].filter(([port]) => !exposed.has(port)).map(([, what]) => what),
  }
}

function serverName(address: string): string {
  return `srv-${address.replaceAll('.', '-')}`
}

function guessServers(facts: RouterFacts, wan: Wan | undefined, lan: Lan | undefined): Server[] {
  if (!lan) return []
  const own = new Set(facts.interfaces.flatMap((i: Interface) => i.v4.map((a) => a.address)))
  const byNumber = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0)
  return seenOn(facts.neighbours, lan.interface)
    .map((n) => n.address)
    .filter((a) => inNetwork(a, lan.internal) && !inNetwork(a, LINK_LOCAL) && a !== wan?.gateway && !own.has(a))
    .filter((a, i, all) => all.indexOf(a) === i)
    .sort((a, b) => byNumber(a) - byNumber(b))
    .map((address) => ({ name: serverName(address), address }))
}

export function guessRouter(facts: RouterFacts, sshPort: number): RouterGuess {
  const wan = guessWan(facts)
  const lan = guessLan(facts, wan)
  const wanAddresses = facts.interfaces.find((i) => i.name === wan?.interface)?.v4.map((a) => a.address) ?? []
  const { services, notExposed } = guessServices(facts.listeners, wanAddresses, sshPort)
  return {
    ...(wan && { wan }),
    ...(lan && { lan }),
    services,
    untracked: services.filter((p) => WEB.includes(p)),
    notExposed,
    servers: guessServers(facts, wan, lan),
    neighbourStates: SEEN,
    missing: [
      ...(wan ? [] : ['network.wan (no default route on the router)']),
      ...(wan && wan.address === undefined ? ['network.wan.address (no IPv4 address on the WAN interface)'] : []),
      ...(lan ? [] : ['network.lan and network.internal (no connected network besides the WAN)']),
    ],
  }
}
