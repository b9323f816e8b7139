// The RoleContext a role's tasks() receives for one host: its network values, and the builders
// for rules and host commands.
import type { HostSpec, NetworkValues } from '../inventory/types.ts'
import { sh } from '../shell/quote.ts'
import { ip6tables, iptables, RoleError } from './iptables-line.ts'
import type { CommandTask, NetworkKey, NetworkKeys, RoleContext, RulesetLine, RulesetTask } from './types.ts'

// What each value means, in the words of the seed: shown when a role needs a value that is missing.
export const NETWORK_KEY_MEANING: Record<NetworkKey, string> = {
  internal: "the internal network's CIDR",
  internal6: "the internal network's IPv6 prefix",
  interface: "the host's external interface, where replies to its own traffic come back",
  'wan.interface': "the router's WAN interface",
  'wan.address': "the router's public (WAN) address",
  'lan.interface': "the router's LAN interface",
  egress: 'the ports the LAN may use on the internet (tcp, udp)',
  services: 'the ports the host serves (tcp, udp)',
  untracked: 'the served ports never tracked by conntrack (tcp, udp)',
}

function lookup(net: NetworkValues, key: NetworkKey): unknown {
  switch (key) {
    case 'wan.interface':
      return net.wan?.interface
    case 'wan.address':
      return net.wan?.address
    case 'lan.interface':
      return net.lan?.interface
    default:
      return net[key]
  }
}

const PLACEHOLDER: NetworkKeys = {
  internal: '0.0.0.0/32',
  internal6: '::/128',
  interface: 'missing',
  'wan.interface': 'missing',
  'wan.address': '0.0.0.0',
  'lan.interface': 'missing',
  egress: { tcp: [0], udp: [0] },
  services: { tcp: [0], udp: [0] },
  untracked: { tcp: [0], udp: [0] },
}

export interface BuiltContext {
  readonly ctx: RoleContext
  // Values the role asked for with need() that the inventory does not give.
  readonly missing: ReadonlySet<NetworkKey>
}

const SYSCTL_KEY = /^[a-z0-9_]+(\.[a-z0-9_-]+)+$/
const SYSCTL_VALUE = /^[A-Za-z0-9 ._-]+$/

export function roleContext(host: HostSpec): BuiltContext {
  const missing = new Set<NetworkKey>()
  const ctx: RoleContext = {
    host: { name: host.name, ...(host.address !== undefined && { address: host.address }) },
    need<K extends NetworkKey>(key: K): NetworkKeys[K] {
      const value = lookup(host.network, key) as NetworkKeys[K] | undefined
      if (value !== undefined) return value
      missing.add(key)
      return PLACEHOLDER[key]
    },
    optional: <K extends NetworkKey>(key: K) => lookup(host.network, key) as NetworkKeys[K] | undefined,
    iptables,
    ip6tables,
    rules(title: string, lines: readonly (RulesetLine | readonly RulesetLine[])[]): RulesetTask {
      return { kind: 'ruleset', title, lines: lines.flat() as RulesetLine[] }
    },
    sysctl(key: string, value: string | number): CommandTask {
      if (!SYSCTL_KEY.test(key) || !SYSCTL_VALUE.test(String(value))) {
        throw new RoleError(`invalid sysctl ${JSON.stringify(key)}=${JSON.stringify(value)}`)
      }
      return {
        kind: 'command',
        title: `set ${key} = ${value}`,
        check: sh`sysctl -n ${key}`,
        want: String(value),
        run: sh`sysctl -q -w ${`${key}=${value}`}`,
      }
    },
    sh,
    command: (task) => ({ kind: 'command', ...task }),
  }
  return { ctx, missing }
}
