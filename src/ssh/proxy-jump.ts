// ProxyJump values as OpenSSH parses them (readconf.c parse_jump): `none`, or hops separated by
// commas, each `[user@]host[:port]` or `ssh://[user@]host[:port]`, IPv6 addresses in brackets.
// The last hop is the one the target is reached through; the hops before it are how that hop is
// reached in turn.

export interface JumpHop {
  readonly host: string
  readonly user?: string
  readonly port?: number
}

export type ProxyJump = { readonly kind: 'none' } | { readonly kind: 'hops'; readonly hops: readonly JumpHop[] }

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const port = Number(text)
  return port >= 1 && port <= 65535 ? port : undefined
}

// `host`, `host:port`, `[v6]`, `[v6]:port` (hpdelim2).
function parseHostPort(text: string): { host: string; port?: number } | string {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text)
  const [host, portText] = bracketed ? [bracketed[1]!, bracketed[2]] : text.split(/:(.*)/s, 2)
  if (!host) return `no host name in "${text}"`
  if (!bracketed && text.includes(':') && portText?.includes(':')) return `an IPv6 address needs brackets: "[${text}]"`
  if (portText === undefined) return { host }
  const port = parsePort(portText)
  return port === undefined ? `bad port "${portText}" in "${text}"` : { host, port }
}

function parseHop(text: string): JumpHop | string {
  let rest = text
  const uri = /^ssh:\/\/(.*?)\/?$/.exec(text)
  if (uri) rest = uri[1]!
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return `only ssh:// URIs can name a jump host, got "${text}"`
  const at = rest.lastIndexOf('@')
  const user = at >= 0 ? rest.slice(0, at) : undefined
  if (user === '') return `empty user name in "${text}"`
  const hostPort = parseHostPort(at >= 0 ? rest.slice(at + 1) : rest)
  if (typeof hostPort === 'string') return hostPort
  return { ...hostPort, ...(user !== undefined && { user }) }
}

// A string: what is wrong with the value.
export function parseProxyJump(value: string): ProxyJump | string {
  const text = value.replace(/#.*$/s, '').trim()
  if (text.toLowerCase() === 'none') return { kind: 'none' }
  if (text === '' || /\s/.test(text)) return `expected jump hosts like [user@]host[:port],... or none, got "${text}"`
  const hops: JumpHop[] = []
  for (const part of text.split(',')) {
    const hop = parseHop(part)
    if (typeof hop === 'string') return hop
    hops.push(hop)
  }
  return { kind: 'hops', hops }
}

// The value OpenSSH hands to the last hop's own ssh as `-J`: every hop before it.
export function formatHops(hops: readonly JumpHop[]): string {
  return hops
    .map((h) => `${h.user !== undefined ? `${h.user}@` : ''}${h.host.includes(':') ? `[${h.host}]` : h.host}${h.port !== undefined ? `:${h.port}` : ''}`)
    .join(',')
}
