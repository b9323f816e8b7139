// What conntrack holds on a host, summarised the way the semi-stateless design is judged: how full
// the table is, and which flows are tracked (protocol, service port, and whether they came from
// the internal network). Pure: parses `conntrack -L` (or /proc/net/nf_conntrack) text.
import { BlockList, isIPv6 } from 'node:net'

export interface ConntrackFlow {
  readonly proto: string
  // The service side of the flow: the lower of the two ports (80 for a browser's request and for
  // the replies of a web server alike); absent for protocols without ports (icmp).
  readonly port?: number
  // Where the tracked connection started, relative to the internal network.
  readonly from: 'internal' | 'outside'
  readonly count: number
}

export interface ConntrackReport {
  readonly count: number
  readonly max: number
  readonly flows: readonly ConntrackFlow[]
}

const PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'dccp', 'gre', 'udplite', 'unknown'])

// The internal network, IPv4 and IPv6 prefixes alike.
function internalNetwork(prefixes: readonly string[]): (address: string) => boolean {
  const list = new BlockList()
  for (const prefix of prefixes) {
    const [address, bits] = prefix.split('/')
    list.addSubnet(address!, Number(bits), isIPv6(address!) ? 'ipv6' : 'ipv4')
  }
  return (address) => list.check(address, isIPv6(address) ? 'ipv6' : 'ipv4')
}

export function parseConntrack(listing: string, internalPrefixes: readonly string[]): ConntrackFlow[] {
  const isInternal = internalNetwork(internalPrefixes)
  const flows = new Map<string, { proto: string; port?: number; from: 'internal' | 'outside'; count: number }>()
  for (const line of listing.split('\n')) {
    const tokens = line.trim().split(/\s+/)
    const proto = tokens.find((t) => PROTOCOLS.has(t))
    if (!proto) continue
    const first = (key: string) => tokens.find((t) => t.startsWith(`${key}=`))?.slice(key.length + 1)
    const src = first('src')
    const ports = [first('sport'), first('dport')].filter((p): p is string => p !== undefined).map(Number)
    const port = ports.length > 0 ? Math.min(...ports) : undefined
    const from = src !== undefined && isInternal(src) ? 'internal' : 'outside'
    const key = `${proto}/${port ?? ''}/${from}`
    const flow = flows.get(key) ?? flows.set(key, { proto, ...(port !== undefined && { port }), from, count: 0 }).get(key)!
    flow.count++
  }
  return [...flows.values()].sort((a, b) => b.count - a.count || a.proto.localeCompare(b.proto) || (a.port ?? 0) - (b.port ?? 0))
}

export function formatConntrack(report: ConntrackReport): string {
  const flows = report.flows.map((f) => `${f.proto}${f.port !== undefined ? `/${f.port}` : ''} from ${f.from} ${f.count}`)
  return `conntrack: ${report.count} of ${report.max} entries${flows.length ? `; ${flows.join(', ')}` : ''}`
}
