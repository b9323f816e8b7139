// An internal server of the seed: reached only from the internal network (through the router),
// its LAN traffic untracked, everything else not established dropped.
import type { Role } from '../src/roles/types.ts'

const internalServer: Role = {
  description: 'server on the internal network: untracked LAN traffic, shared INPUT allow rules, drop the rest',

  tasks({ task, need, common }) {
    const internal = need('internal')
    const external = need('interface')
    return [
      task('untrack traffic within the internal network', async ($) => {
        await $`iptables -t raw -A PREROUTING -s ${internal} -d ${internal} -j NOTRACK`
        await $`iptables -t raw -A OUTPUT -s ${internal} -d ${internal} -j NOTRACK`
      }),
      common.inputAllow(external),
      task('drop everything else', async ($) => {
        await $`iptables -A INPUT -j DROP`
      }),
      common.inputAllow6(external),
      task('drop everything else (IPv6)', async ($) => {
        await $`ip6tables -A INPUT -j DROP`
      }),
    ]
  },
}

export default internalServer
