// The seed's INPUT allow rules that every host carries, router and internal servers alike
// ("Personally, I would allow the following on all servers"). Every role includes them before its
// final DROP, through its context (ctx.common.inputAllow) or `fleet/role`, so a role of your own
// gets them too; they are defined once, here, for IPv4 and, with the same intent, for IPv6.
import type { RoleContext, RoleTask } from '../../src/roles/types.ts'

export function inputAllow({ task, need }: RoleContext, external: string): RoleTask {
  const internal = need('internal')
  return task('accept what every host accepts', async ($) => {
    await $`iptables -A INPUT -i ${external} -m state --state RELATED,ESTABLISHED -j ACCEPT`
    await $`iptables -A INPUT -p icmp -j ACCEPT`
    await $`iptables -A INPUT -i lo -j ACCEPT`
    await $`iptables -A INPUT -s ${internal} -j ACCEPT`
  })
}

// IPv6 has no NAT here and the seed says nothing of it, so the intent is carried over: replies,
// ICMPv6 (neighbour discovery and path MTU cannot work without it), loopback, the internal
// prefix when the inventory gives one.
export function inputAllow6({ task, optional }: RoleContext, external: string): RoleTask {
  const internal6 = optional('internal6')
  return task('accept what every host accepts (IPv6)', async ($) => {
    await $`ip6tables -A INPUT -i ${external} -m state --state RELATED,ESTABLISHED -j ACCEPT`
    await $`ip6tables -A INPUT -p ipv6-icmp -j ACCEPT`
    await $`ip6tables -A INPUT -i lo -j ACCEPT`
    if (internal6 !== undefined) await $`ip6tables -A INPUT -s ${internal6} -j ACCEPT`
  })
}

