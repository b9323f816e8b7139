// Validators for every inventory value that can end up on a remote command line or in a ruleset.
// Each returns an explanation of what was expected, or null when the value is fine; the inventory
// loader turns the explanation into a file:line:col error. Nothing here is lenient on purpose:
// a value that passes must be safe to place in a shell word and in an iptables-restore line as is.

import { isIPv6 } from 'node:net'
import { globToRegExp } from '../shell/glob.ts'

export type Problem = string | null

const IPV4_OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

export function checkIPv4(value: string): Problem {
  const parts = value.split('.')
  if (parts.length !== 4 || !parts.every((p) => IPV4_OCTET.test(p))) {
    return `expected an IPv4 address like 203.0.113.1 (four numbers 0-255), got "${value}"`
  }
  return null
}

export function checkCidr(value: string): Problem {
  const [address, bits, ...rest] = value.split('/')
  const expected = `expected an IPv4 network like 203.0.113.0/24, got "${value}"`
  if (address === undefined || bits === undefined || rest.length > 0) return expected
  if (checkIPv4(address) !== null) return expected
  if (!/^(3[0-2]|[12]?\d)$/.test(bits)) return `expected a prefix length 0-32 in "${value}"`
  if (!isNetworkAddress(address, Number(bits))) {
    return `"${value}" has host bits set; the network is ${networkOf(address, Number(bits))}/${bits}`
  }
  return null
}

function toInt(address: string): number {
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0)
}

function fromInt(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.')
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits)
}

function networkOf(address: string, bits: number): string {
  return fromInt(Number(BigInt(toInt(address)) & BigInt(maskOf(bits))))
}

function isNetworkAddress(address: string, bits: number): boolean {
  return networkOf(address, bits) === address
}

// Linux accepts up to 15 bytes and forbids '/', ':' and whitespace; iptables also treats a trailing
// '+' as a wildcard. We allow the characters real interface names use and nothing a shell cares about.
export function checkInterface(value: string): Problem {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}\+?$/.test(value) || value.length > 15) {
    return `expected an interface name like eth0 (letters, digits, "_", ".", "-", at most 15), got "${value}"`
  }
  return null
}

export function checkPort(value: unknown): Problem {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    return `expected a port number 1-65535, got ${JSON.stringify(value)}`
  }
  return null
}

// Host names are inventory keys and also appear in file names (saved rulesets, locks), so they
// follow the DNS label rules and nothing more.
export function checkHostName(value: string): Problem {
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(value)) {
    return `expected a host name like web01 (letters, digits, "-", "."), got "${value}"`
  }
  return null
}

export function checkIPv6(value: string): Problem {
  return isIPv6(value) && /^[0-9A-Fa-f:.]+$/.test(value) ? null : `expected an IPv6 address like 2001:db8::1, got "${value}"`
}

export function checkCidr6(value: string): Problem {
  const [address, bits, ...rest] = value.split('/')
  const expected = `expected an IPv6 prefix like 2001:db8:0:2::/64, got "${value}"`
  if (address === undefined || bits === undefined || rest.length > 0 || checkIPv6(address) !== null) return expected
  if (!/^(12[0-8]|1[01]\d|[1-9]?\d)$/.test(bits)) return `expected a prefix length 0-128 in "${value}"`
  const n = ipv6ToBigInt(address)
  const network = n & ~((1n << BigInt(128 - Number(bits))) - 1n)
  if (network !== n) return `"${value}" has host bits set; the network is ${bigIntToIPv6(network)}/${bits}`
  return null
}

// For an address checkIPv6 accepted: eight groups, "::" filled in, a trailing dotted quad as two.
function ipv6ToBigInt(address: string): bigint {
  const groups = (part: string) =>
    part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ((n) => [n >>> 16, n & 0xffff])(toInt(g)).map((x) => x.toString(16)) : [g]))
  const [head = '', tail] = address.split('::')
  const left = groups(head)
  const right = tail === undefined ? [] : groups(tail)
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n)
}

// RFC 5952's form: lower case, no leading zeros, the longest run of two or more zero groups as "::".
function bigIntToIPv6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn))
  let best = { start: -1, length: 1 }
  for (let i = 0; i < 8; i++) {
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > best.length) best = { start: i, length: j - i }
  }
  const hex = groups.map((g) => g.toString(16))
  if (best.start < 0) return hex.join(':')
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`
}

// An SSH target: an IPv4 or IPv6 address, or a DNS name.
export function checkAddress(value: string): Problem {
  if (value.includes(':')) return checkIPv6(value)
  if (/^[\d.]+$/.test(value)) return checkIPv4(value)
  return checkHostName(value) === null ? null : `expected an IPv4 address or DNS name, got "${value}"`
}

export function checkRoleName(value: string): Problem {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(value)) {
    return `expected a role name like internal-server (lower-case letters, digits, "-"), got "${value}"`
  }
  return null
}

export function checkUser(value: string): Problem {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(value)) {
    return `expected a user name like root or deploy, got "${value}"`
  }
  return null
}

// Every table's builtin chains, by name (render/ruleset.ts has them per table).
export const BUILTIN_CHAIN_NAMES = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'] as const

// A chain other software keeps (DOCKER-*, f2b-*), or "!NAME": never preserve NAME. fleet always
// writes the builtin chains, so a pattern that matches one would hand them to someone else.
export function checkPreservePattern(value: string): Problem {
  if (!/^!?[A-Za-z0-9_.*?-]{1,28}$/.test(value)) {
    return `expected a chain name or pattern like DOCKER* or f2b-* (or !NAME, never preserved), got "${value}"`
  }
  if (value.startsWith('!')) return null
  const builtin = BUILTIN_CHAIN_NAMES.find((chain) => globToRegExp(value).test(chain))
  if (builtin !== undefined) {
    return `"${value}" matches the builtin chain ${builtin}, which fleet always writes; name the chains of the software to keep, like DOCKER-* or f2b-*`
  }
  return null
}
