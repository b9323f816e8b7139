// known_hosts, as OpenSSH reads it: plain patterns (with * ? and !negation), hashed entries
// (|1|salt|hmac-sha1), [host]:port for non-standard ports, @revoked and @cert-authority markers.
import { createHmac } from 'node:crypto'
import { globToRegExp } from '../shell/glob.ts'

export interface KnownHostEntry {
  readonly marker?: 'revoked' | 'cert-authority'
  readonly hosts: string
  readonly keyType: string
  readonly key: string
}

export type HostKeyVerdict =
  | { readonly kind: 'match' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'changed'; readonly knownTypes: readonly string[] }
  | { readonly kind: 'revoked' }

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const fields = line.split(/\s+/)
    let marker: KnownHostEntry['marker']
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields.shift()!.slice(1) as KnownHostEntry['marker']
    }
    const [hosts, keyType, key] = fields
    if (hosts && keyType && key) entries.push({ ...(marker && { marker }), hosts, keyType, key })
  }
  return entries
}

// The name OpenSSH looks up: "host" on port 22, "[host]:port" otherwise, or the HostKeyAlias as is.
export function knownHostsName(host: string, port: number, alias?: string): string {
  return alias ?? (port === 22 ? host : `[${host}]:${port}`)
}

function hashedMatches(field: string, name: string): boolean {
  const [, kind, salt, hash] = field.split('|')
  if (kind !== '1' || !salt || !hash) return false
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash
}

export function hostsFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatches(field, name)
  let matched = false
  for (const pattern of field.split(',')) {
    const negated = pattern.startsWith('!')
    // Host names compare without regard to case, as OpenSSH does.
    if (globToRegExp(negated ? pattern.slice(1) : pattern, 'i').test(name)) {
      if (negated) return false
      matched = true
    }
  }
  return matched
}

// `keyType` and `key` are the server's: the algorithm name and the base64 of its public key blob.
export function verifyHostKey(entries: readonly KnownHostEntry[], name: string, keyType: string, key: string): HostKeyVerdict {
  const forHost = entries.filter((e) => e.marker !== 'cert-authority' && hostsFieldMatches(e.hosts, name))
  if (forHost.some((e) => e.marker === 'revoked' && e.key === key)) return { kind: 'revoked' }
  const plain = forHost.filter((e) => e.marker === undefined)
  if (plain.some((e) => e.keyType === keyType && e.key === key)) return { kind: 'match' }
  if (plain.length === 0) return { kind: 'unknown' }
  return { kind: 'changed', knownTypes: [...new Set(plain.map((e) => e.keyType))] }
}

// The host key algorithms to offer, preferring those already known for the host, as OpenSSH
// does: otherwise a server with a new ed25519 key and a known RSA key would look "changed".
export function preferredHostKeyAlgorithms(entries: readonly KnownHostEntry[], name: string): string[] | undefined {
  const types = entries.filter((e) => e.marker === undefined && hostsFieldMatches(e.hosts, name)).map((e) => e.keyType)
  if (types.length === 0) return undefined
  return [...new Set(types.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t])))]
}
