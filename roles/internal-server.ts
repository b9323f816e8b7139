// An internal server of the seed: reached only from the internal network (through the router),
// its LAN traffic untracked, everything else not established dropped.
import type { Role } from '../src/roles/types.ts'
import { inputAllow, inputAllow6 } from './common/input-allow.ts'

const internalServer: Role = {
  description: 'server on the internal network: untracked LAN traffic, shared INPUT allow rules, drop the rest',

  tasks(ctx) {
    const { iptables, ip6tables, rules, need } = ctx
    const internal = need('internal')
    return [
      rules('untrack traffic within the internal network', [
        iptables`-t raw -A PREROUTING -s ${internal} -d ${internal} -j NOTRACK`,
        iptables`-t raw -A OUTPUT -s ${internal} -d ${internal} -j NOTRACK`,
      ]),
      inputAllow(ctx, need('interface')),
      rules('drop everything else', [iptables`-A INPUT -j DROP`]),
      inputAllow6(ctx, need('interface')),
      rules('drop everything else (IPv6)', [ip6tables`-A INPUT -j DROP`]),
    ]
  },
}

export default internalServer
