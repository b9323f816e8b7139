// The inventory's shape. Strict objects everywhere: an unknown key is almost always a typo, and a
// typo in a firewall inventory silently drops a rule. The same schema is `fleet schema`'s JSON
// Schema (for editors): `meta` gives it the README's words, and the patterns and ranges a JSON
// Schema can carry. They never refuse what the checks accept (test/unit/json-schema.test.ts);
// what only code can say (CIDR host bits, jump targets, role names) stays with the checks.
import { z } from 'zod'
import * as values from '../net/values.ts'
import { PATTERN } from './json-patterns.ts'

function checked<T extends z.ZodType>(base: T, check: (value: z.infer<T>) => values.Problem) {
  return base.superRefine((value, ctx) => {
    const problem = check(value)
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
  })
}

const ipv4 = checked(z.string(), values.checkIPv4).meta({ pattern: PATTERN.ipv4, examples: ['203.0.113.10'] })
const cidr = checked(z.string(), values.checkCidr).meta({ pattern: PATTERN.cidr, examples: ['10.20.0.0/24'] })
const cidr6 = checked(z.string(), values.checkCidr6).meta({ pattern: PATTERN.cidr6, examples: ['2001:db8:20::/64'] })
const iface = checked(z.string(), values.checkInterface).meta({ pattern: PATTERN.iface, maxLength: 15, examples: ['eth0'] })
const port = checked(z.number(), values.checkPort).meta({ type: 'integer', minimum: 1, maximum: 65535 })
const address = checked(z.string(), values.checkAddress).meta({ pattern: PATTERN.address })
const roleName = checked(z.string(), values.checkRoleName).meta({ pattern: PATTERN.roleName, examples: ['router', 'internal-server'] })
const hostName = checked(z.string(), values.checkHostName).meta({ pattern: PATTERN.hostName })
const user = checked(z.string(), values.checkUser).meta({ pattern: PATTERN.user, examples: ['root'] })
const localPath = checked(z.string(), (p) =>
  p.length > 0 && !/[\n\0]/.test(p) ? null : `expected a file path, got ${JSON.stringify(p)}`,
).meta({ minLength: 1, pattern: PATTERN.localPath })

const ports = z.array(port)
const portSet = z.strictObject({
  tcp: ports.optional().describe('tcp ports'),
  udp: ports.optional().describe('udp ports'),
})

export const networkSchema = z
  .strictObject({
    internal: cidr.optional().describe("the internal network (the seed's <internal>)"),
    internal6: cidr6.optional().describe('its IPv6 prefix (optional): accepted like the IPv4 network'),
    interface: iface.optional().describe("a server's external interface (replies come back on it)"),
    wan: z
      .strictObject({
        interface: iface.optional().describe("the router's WAN interface (the seed's eth0)"),
        address: ipv4.optional().describe("the router's public address (the seed's <router>)"),
      })
      .optional()
      .describe("the router's WAN side: the seed's eth0 and <router>"),
    lan: z
      .strictObject({ interface: iface.optional().describe("the router's LAN interface (the seed's eth1)") })
      .optional()
      .describe("the router's LAN side: the seed's eth1"),
    egress: portSet.optional().describe('what the LAN may use on the internet (tracked, NATed)'),
    services: portSet.optional().describe('what the router answers from the internet'),
    untracked: portSet.optional().describe('the load-balanced web: never tracked'),
  })
  .describe("the seed's blanks: networks, interfaces and ports the roles ask for")

export const sshSchema = z
  .strictObject({
    user: user.optional().describe('the SSH user; another user than root works through `sudo -n` (passwordless sudo)'),
    port: port.optional().describe('the SSH port (22)'),
    identity: localPath.optional().describe('the private key file; omit to use the agent at SSH_AUTH_SOCK'),
    knownHosts: localPath.optional().describe('the known_hosts file host keys are checked against'),
    config: localPath.optional().describe('the ssh_config file (~/.ssh/config)'),
    jump: hostName.optional().describe('the inventory host this one is reached through (internal servers are reached through the router)'),
  })
  .describe('how fleet reaches the host: what the host says, then ~/.ssh/config, then the defaults')

const preserve = z
  .array(checked(z.string(), values.checkPreservePattern).meta({ pattern: PATTERN.preservePattern }))
  .describe('chains other software keeps in the same tables (DOCKER, f2b-*...): kept as they are by every change, listed as foreign by audit; !NAME is never preserved')
const persist = z.boolean().describe('write confirmed rulesets to /etc/iptables/rules.v4 and rules.v6 for netfilter-persistent to restore at boot')
// What apply does on a host where rules outside the tables fleet manages also filter traffic
// (the other iptables backend, native nftables tables): leave it unchanged, or apply alongside.
const otherFirewalls = z.enum(['refuse', 'proceed'], {
  error: (issue) => `expected refuse (the default: leave such a host unchanged) or proceed (apply alongside them), got ${JSON.stringify(issue.input)}`,
}).describe('what apply does on a host where rules outside the tables fleet manages also filter traffic: refuse (the default) or proceed')

const hostSchema = z
  .strictObject({
    address: address.optional().describe('how the operator reaches it: an IPv4 or IPv6 address, or a DNS name'),
    role: roleName.describe("the host's role: roles/<role>.ts in roles.path or fleet's own roles (router, internal-server)"),
    preserve: preserve.optional(),
    persist: persist.optional(),
    otherFirewalls: otherFirewalls.optional(),
    ssh: sshSchema.optional(),
    network: networkSchema.optional(),
  })
  .describe('a host: its address, its role, and any value it overrides')

export const inventorySchema = z
  .strictObject({
    roles: z
      .strictObject({ path: z.array(localPath).describe("more role folders, searched before fleet's roles/ (relative to the inventory)") })
      .optional()
      .describe('where role files are found'),
    defaults: z
      .strictObject({ ssh: sshSchema.optional(), network: networkSchema.optional(), preserve: preserve.optional(), persist: persist.optional(), otherFirewalls: otherFirewalls.optional() })
      .optional()
      .describe('shared by every host; any host may override any value'),
    hosts: z.record(hostName, hostSchema).describe('every host fleet manages, by name'),
  })
  .meta({ title: 'fleet inventory', description: 'The network fleet brings to its baseline: every host, its role, and the values the roles ask for.' })

export type RawInventory = z.infer<typeof inventorySchema>
export type RawNetwork = z.infer<typeof networkSchema>
