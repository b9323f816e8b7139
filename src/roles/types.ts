// What a role file sees and returns. Role files import these types only (`import type`), so a role
// is plain data plus a function and loads without any of fleet's runtime code.
import type { PortSet } from '../inventory/types.ts'

export type Table = 'raw' | 'mangle' | 'nat' | 'filter'
// iptables (IPv4) or ip6tables (IPv6): two rulesets per host, changed together.
export type Family = 'ipv4' | 'ipv6'

// One line of a ruleset, parsed from the role's iptables command into the pieces
// iptables-restore needs.
export type RulesetLine = { readonly family: Family } & (
  | { readonly kind: 'rule'; readonly table: Table; readonly chain: string; readonly spec: readonly string[] }
  | { readonly kind: 'policy'; readonly table: Table; readonly chain: string; readonly target: 'ACCEPT' | 'DROP' }
  | { readonly kind: 'chain'; readonly table: Table; readonly chain: string }
)

export interface RulesetTask {
  readonly kind: 'ruleset'
  readonly title: string
  readonly lines: readonly RulesetLine[]
}

// A host setting outside netfilter: `check` prints the current value; when it differs from `want`,
// `run` sets it. Both are complete, already-quoted shell commands.
export interface CommandTask {
  readonly kind: 'command'
  readonly title: string
  readonly check: string
  readonly want: string
  readonly run: string
}

export type Task = RulesetTask | CommandTask

// The network values a role can ask for, and their types.
export interface NetworkKeys {
  internal: string
  internal6: string
  interface: string
  'wan.interface': string
  'wan.address': string
  'lan.interface': string
  egress: PortSet
  services: PortSet
  untracked: PortSet
}
export type NetworkKey = keyof NetworkKeys

export type IptablesValue = string | number | readonly number[]

export interface RoleContext {
  readonly host: { readonly name: string; readonly address?: string }
  // The inventory value for `key` (host override or shared default). A missing value is reported
  // to the user with the host's location, after the role has run.
  need<K extends NetworkKey>(key: K): NetworkKeys[K]
  // Present-or-undefined, for values a role can do without.
  optional<K extends NetworkKey>(key: K): NetworkKeys[K] | undefined
  // `iptables\`-t raw -A PREROUTING -d ${address} -p tcp --dport ${port} -j NOTRACK\``: the seed's own
  // vocabulary. Interpolated values are checked to be single safe words; port lists join with ",".
  iptables(strings: TemplateStringsArray, ...values: IptablesValue[]): RulesetLine
  // The same for the IPv6 ruleset. A role with no ip6tables lines leaves ip6tables alone.
  ip6tables(strings: TemplateStringsArray, ...values: IptablesValue[]): RulesetLine
  rules(title: string, lines: readonly (RulesetLine | readonly RulesetLine[])[]): RulesetTask
  sysctl(key: string, value: string | number): CommandTask
  // A POSIX-quoting tagged template for the commands of `command` tasks.
  sh(strings: TemplateStringsArray, ...values: unknown[]): string
  command(task: { title: string; check: string; want: string; run: string }): CommandTask
}

export interface Role {
  readonly description: string
  tasks(ctx: RoleContext): readonly Task[]
}
