// router01 of the seed: a NAT router run semi-stateless. Everything that does not need NAT is
// marked NOTRACK in the raw table, so conntrack only holds the LAN's outbound egress flows.
import type { Role } from '../src/roles/types.ts'
import { inputAllow, inputAllow6 } from './common/input-allow.ts'

const router: Role = {
  description: 'NAT router: untracked web service, masqueraded LAN egress, locked-down FORWARD and INPUT',

  tasks(ctx) {
    const { iptables, ip6tables, rules, need, sysctl } = ctx
    const wan = need('wan.interface')
    const lan = need('lan.interface')
    const publicAddress = need('wan.address')
    const internal = need('internal')
    const egress = need('egress')
    const services = need('services')
    const untracked = ctx.optional('untracked')?.tcp ?? []

    return [
      rules("untrack the router's own web service", [
        untracked.map((port) => iptables`-t raw -A PREROUTING -d ${publicAddress} -p tcp --dport ${port} -j NOTRACK`),
        untracked.map((port) => iptables`-t raw -A OUTPUT -s ${publicAddress} -p tcp --sport ${port} -j NOTRACK`),
      ]),
      rules('untrack traffic within the internal network', [
        iptables`-t raw -A PREROUTING -s ${internal} -d ${internal} -j NOTRACK`,
        iptables`-t raw -A OUTPUT -s ${internal} -d ${internal} -j NOTRACK`,
      ]),
      // Replies to the LAN's egress come back from the allowed ports; everything else arriving on
      // the WAN is untracked, so it is never de-NATed and the INPUT/FORWARD drops catch it.
      rules('untrack inbound internet traffic that is not a reply to allowed egress', [
        egress.tcp.length > 0
          ? iptables`-t raw -A PREROUTING -i ${wan} -p tcp -m multiport ! --sports ${egress.tcp} -j NOTRACK`
          : iptables`-t raw -A PREROUTING -i ${wan} -p tcp -j NOTRACK`,
        egress.udp.length > 0
          ? iptables`-t raw -A PREROUTING -i ${wan} -p udp -m multiport ! --sports ${egress.udp} -j NOTRACK`
          : iptables`-t raw -A PREROUTING -i ${wan} -p udp -j NOTRACK`,
      ]),
      rules('masquerade the LAN going out to the internet', [
        iptables`-t nat -A POSTROUTING -o ${wan} -j MASQUERADE`,
      ]),
      rules('forward only LAN egress and its replies', [
        iptables`-A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT`,
        iptables`-A FORWARD -i ${lan} -o ${wan} -j ACCEPT`,
        iptables`-A FORWARD -j DROP`,
      ]),
      rules('accept the services the router exposes', [
        services.tcp.length > 0 ? [iptables`-A INPUT -p tcp -m multiport --dports ${services.tcp} -j ACCEPT`] : [],
        services.udp.length > 0 ? [iptables`-A INPUT -p udp -m multiport --dports ${services.udp} -j ACCEPT`] : [],
      ]),
      inputAllow(ctx, wan),
      rules('drop everything else', [iptables`-A INPUT -j DROP`]),
      sysctl('net.ipv4.ip_forward', 1),

      // IPv6: the same services and shared rules; nothing is forwarded unless a role says so.
      rules('accept the services the router exposes (IPv6)', [
        services.tcp.length > 0 ? [ip6tables`-A INPUT -p tcp -m multiport --dports ${services.tcp} -j ACCEPT`] : [],
        services.udp.length > 0 ? [ip6tables`-A INPUT -p udp -m multiport --dports ${services.udp} -j ACCEPT`] : [],
      ]),
      inputAllow6(ctx, wan),
      rules('drop everything else (IPv6)', [ip6tables`-A INPUT -j DROP`, ip6tables`-A FORWARD -j DROP`]),
    ]
  },
}

export default router
