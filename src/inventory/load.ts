// Inventory loading: YAML text -> validated Inventory, or every problem with file:line:col.
// Pure (the caller reads the file), so it is table-tested without touching the disk.
import path from 'node:path'
import { LineCounter, isMap, isScalar, parseDocument, type Document, type Node } from 'yaml'
import type { z } from 'zod'
import { InputError, InputErrors } from './errors.ts'
import { inventorySchema, type RawInventory, type RawNetwork } from './schema.ts'
import type { HostSpec, Inventory, NetworkValues, PortSet } from './types.ts'
import { DEFAULT_PRESERVE } from '../plan/preserve.ts'

export function loadInventory(text: string, file: string): Inventory {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false })
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset)
    return `${file}:${line}:${col}`
  }
  if (doc.errors.length > 0) {
    throw new InputErrors(doc.errors.map((e) => new InputError(yamlMessage(e.code, e.message), at(e.pos[0]))))
  }
  const parsed = inventorySchema.safeParse(doc.toJS() ?? {})
  if (!parsed.success) {
    throw new InputErrors(parsed.error.issues.map((issue) => schemaError(issue, doc, at)))
  }
  const raw = parsed.data
  const hosts = Object.entries(raw.hosts).map(([name, host]) =>
    toHostSpec(name, host, raw, { host: keyAt(doc, ['hosts'], name, at), role: nodeAt(doc, ['hosts', name, 'role'], at) }),
  )
  checkJumps(hosts, (p) => nodeAt(doc, p, at))
  const dir = path.dirname(file)
  return {
    file,
    dir,
    rolePaths: (raw.roles?.path ?? []).map((p) => path.resolve(dir, p)),
    hosts,
  }
}

function yamlMessage(code: string, message: string): string {
  if (code === 'DUPLICATE_KEY') return 'duplicate key: each key may appear once in a mapping'
  return `malformed YAML: ${message.split('\n')[0]}`
}

type Where = (offset: number) => string
type PathKey = string | number

// The location of the value at `path`, or of its nearest ancestor that exists.
function nodeAt(doc: Document, keys: readonly PathKey[], at: Where): string {
  for (let n = keys.length; n >= 0; n--) {
    const node = doc.getIn(keys.slice(0, n), true) as Node | undefined
    if (node?.range) return at(node.range[0])
  }
  return at(0)
}

// The location of a key inside a mapping (for unknown keys, where the key itself is the mistake).
function keyAt(doc: Document, parent: readonly PathKey[], key: string, at: Where): string {
  const map = parent.length === 0 ? doc.contents : doc.getIn(parent, true)
  if (isMap(map)) {
    const pair = map.items.find((item) => isScalar(item.key) && item.key.value === key)
    if (pair && isScalar(pair.key) && pair.key.range) return at(pair.key.range[0])
  }
  return nodeAt(doc, parent, at)
}

function schemaError(issue: z.core.$ZodIssue, doc: Document, at: Where): InputError {
  const keys = issue.path.filter((k): k is PathKey => typeof k !== 'symbol')
  const dotted = keys.join('.') || 'the top level'
  switch (issue.code) {
    case 'unrecognized_keys': {
      const key = issue.keys[0] ?? ''
      return new InputError(
        `unknown key "${key}" in ${dotted}; expected one of: ${knownKeys(keys)}`,
        keyAt(doc, keys, key, at),
      )
    }
    case 'invalid_type':
      return new InputError(
        `${dotted}: expected ${describeType(issue.expected)}${issue.input === undefined ? ' (missing)' : ''}`,
        nodeAt(doc, keys, at),
      )
    case 'invalid_key':
      return new InputError(`${dotted}: ${issue.issues[0]?.message ?? 'invalid key'}`, nodeAt(doc, keys, at))
    default:
      return new InputError(`${dotted}: ${issue.message}`, nodeAt(doc, keys, at))
  }
}

function describeType(expected: string): string {
  return expected === 'record' || expected === 'object' ? 'a mapping' : expected === 'array' ? 'a list' : `a ${expected}`
}

// Written out rather than introspected: these are the words a user should see in the error.
const KNOWN_KEYS: Record<string, string> = {
  '': 'roles, defaults, hosts',
  roles: 'path',
  defaults: 'ssh, network, preserve, persist, otherFirewalls',
  host: 'address, role, ssh, network, preserve, persist, otherFirewalls',
  ssh: 'user, port, identity, knownHosts, config, jump',
  network: 'internal, internal6, interface, wan, lan, egress, services, untracked',
  wan: 'interface, address',
  lan: 'interface',
  ports: 'tcp, udp',
}

function knownKeys(keys: readonly PathKey[]): string {
  const last = keys.at(-1)
  if (keys.length === 0) return KNOWN_KEYS['']!
  if (keys[0] === 'hosts' && keys.length === 2) return KNOWN_KEYS.host!
  if (last === 'egress' || last === 'services' || last === 'untracked') return KNOWN_KEYS.ports!
  return KNOWN_KEYS[String(last)] ?? ''
}

function toHostSpec(
  name: string,
  host: RawInventory['hosts'][string],
  raw: RawInventory,
  where: { host: string; role: string },
): HostSpec {
  return {
    name,
    ...(host.address !== undefined && { address: host.address }),
    role: host.role,
    network: mergeNetwork(raw.defaults?.network ?? {}, host.network ?? {}),
    ssh: { host: host.ssh ?? {}, defaults: raw.defaults?.ssh ?? {} },
    ...jumpOf(name, host.ssh?.jump ?? raw.defaults?.ssh?.jump),
    where: where.host,
    roleWhere: where.role,
    preserve: host.preserve ?? raw.defaults?.preserve ?? DEFAULT_PRESERVE,
    persist: host.persist ?? raw.defaults?.persist ?? false,
    otherFirewalls: host.otherFirewalls ?? raw.defaults?.otherFirewalls ?? 'refuse',
  }
}

// Per-leaf override: a host that sets wan.address keeps the shared wan.interface. Port lists are
// leaves (a host that lists its services replaces the shared list rather than adding to it).
function mergeNetwork(base: RawNetwork, over: RawNetwork): NetworkValues {
  const portSet = (a?: Partial<PortSet>, b?: Partial<PortSet>): PortSet | undefined =>
    a || b ? { tcp: b?.tcp ?? a?.tcp ?? [], udp: b?.udp ?? a?.udp ?? [] } : undefined
  const merged: Record<string, unknown> = {
    internal: over.internal ?? base.internal,
    internal6: over.internal6 ?? base.internal6,
    interface: over.interface ?? base.interface,
    wan: base.wan || over.wan ? { ...base.wan, ...over.wan } : undefined,
    lan: base.lan || over.lan ? { ...base.lan, ...over.lan } : undefined,
    egress: portSet(base.egress, over.egress),
    services: portSet(base.services, over.services),
    untracked: portSet(base.untracked, over.untracked),
  }
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as NetworkValues
}

// A shared default jump host does not apply to the jump host itself.
function jumpOf(name: string, jump: string | undefined): { jump?: string } {
  return jump === undefined || jump === name ? {} : { jump }
}

function checkJumps(hosts: readonly HostSpec[], where: (keys: PathKey[]) => string): void {
  const byName = new Map(hosts.map((h) => [h.name, h]))
  const errors: InputError[] = []
  for (const host of hosts) {
    const jump = host.jump
    if (jump === undefined) continue
    const at = where(['hosts', host.name, 'ssh', 'jump'])
    const target = byName.get(jump)
    if (target === undefined) {
      errors.push(new InputError(`host ${host.name}: jump host "${jump}" is not a host of this inventory`, at))
    } else if (target.jump !== undefined) {
      errors.push(new InputError(`host ${host.name}: jump host ${jump} is itself behind a jump host; fleet supports one hop`, at))
    }
  }
  if (errors.length > 0) throw new InputErrors(errors)
}
