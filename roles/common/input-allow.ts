// The seed's INPUT allow rules that every host carries, router and internal servers alike
// ("Personally, I would allow the following on all servers"). Every role includes them before its
// final DROP; they are defined once, here, for IPv4 and, with the same intent, for IPv6.
import type { RoleContext, RulesetTask } from '../../src/roles/types.ts'

export function inputAllow({ iptables, rules, need }: RoleContext, external: string): RulesetTask {
  const internal = need('internal')
  return rules('accept what every host accepts', [
    iptables`-A INPUT -i ${external} -m state --state RELATED,ESTABLISHED -j ACCEPT`,
    iptables`-A INPUT -p icmp -j ACCEPT`,
    iptables`-A INPUT -i lo -j ACCEPT`,
    iptables`-A INPUT -s ${internal} -j ACCEPT`,
  ])
}

// IPv6 has no NAT here and the seed says nothing of it, so the intent is carried over: replies,
// ICMPv6 (neighbour discovery and path MTU cannot work without it), loopback, the internal
// prefix when the inventory gives one.
export function inputAllow6({ ip6tables, rules, optional }: RoleContext, external: string): RulesetTask {
  const internal6 = optional('internal6')
  return rules('accept what every host accepts (IPv6)', [
    ip6tables`-A INPUT -i ${external} -m state --state RELATED,ESTABLISHED -j ACCEPT`,
    ip6tables`-A INPUT -p ipv6-icmp -j ACCEPT`,
    ip6tables`-A INPUT -i lo -j ACCEPT`,
    internal6 !== undefined ? [ip6tables`-A INPUT -s ${internal6} -j ACCEPT`] : [],
  ])
}
