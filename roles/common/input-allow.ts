// The seed's INPUT allow rules that every host carries, router and internal servers alike
// ("Personally, I would allow the following on all servers"). Every role includes them before its
// final DROP; they are defined once, here.
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
