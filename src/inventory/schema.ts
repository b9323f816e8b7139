// The inventory's shape. Strict objects everywhere: an unknown key is almost always a typo, and a
// typo in a firewall inventory silently drops a rule.
import { z } from 'zod'
import * as values from '../net/values.ts'

function checked<T extends z.ZodType>(base: T, check: (value: z.infer<T>) => values.Problem) {
  return base.superRefine((value, ctx) => {
    const problem = check(value)
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
  })
}

const ipv4 = checked(z.string(), values.checkIPv4)
const cidr = checked(z.string(), values.checkCidr)
const cidr6 = checked(z.string(), values.checkCidr6)
const iface = checked(z.string(), values.checkInterface)
const port = checked(z.number(), values.checkPort)
const address = checked(z.string(), values.checkAddress)
const roleName = checked(z.string(), values.checkRoleName)
const hostName = checked(z.string(), values.checkHostName)
const user = checked(z.string(), values.checkUser)
const localPath = checked(z.string(), (p) =>
  p.length > 0 && !/[\n\0]/.test(p) ? null : `expected a file path, got ${JSON.stringify(p)}`,
)

const ports = z.array(port)
const portSet = z.strictObject({ tcp: ports.optional(), udp: ports.optional() })

export const networkSchema = z.strictObject({
  internal: cidr.optional(),
  internal6: cidr6.optional(),
  interface: iface.optional(),
  wan: z.strictObject({ interface: iface.optional(), address: ipv4.optional() }).optional(),
  lan: z.strictObject({ interface: iface.optional() }).optional(),
  egress: portSet.optional(),
  services: portSet.optional(),
  untracked: portSet.optional(),
})

export const sshSchema = z.strictObject({
  user: user.optional(),
  port: port.optional(),
  identity: localPath.optional(),
  knownHosts: localPath.optional(),
  config: localPath.optional(),
  jump: hostName.optional(),
})

const preserve = z.array(checked(z.string(), values.checkPreservePattern))
// What apply does on a host where rules outside the tables fleet manages also filter traffic
// (the other iptables backend, native nftables tables): leave it unchanged, or apply alongside.
const otherFirewalls = z.enum(['refuse', 'proceed'], {
  error: (issue) => `expected refuse (the default: leave such a host unchanged) or proceed (apply alongside them), got ${JSON.stringify(issue.input)}`,
})

const hostSchema = z.strictObject({
  address: address.optional(),
  role: roleName,
  preserve: preserve.optional(),
  persist: z.boolean().optional(),
  otherFirewalls: otherFirewalls.optional(),
  ssh: sshSchema.optional(),
  network: networkSchema.optional(),
})

export const inventorySchema = z.strictObject({
  roles: z.strictObject({ path: z.array(localPath) }).optional(),
  defaults: z
    .strictObject({ ssh: sshSchema.optional(), network: networkSchema.optional(), preserve: preserve.optional(), persist: z.boolean().optional(), otherFirewalls: otherFirewalls.optional() })
    .optional(),
  hosts: z.record(hostName, hostSchema),
})

export type RawInventory = z.infer<typeof inventorySchema>
export type RawNetwork = z.infer<typeof networkSchema>
