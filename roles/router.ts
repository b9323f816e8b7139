// router01 of the seed: a NAT router run semi-stateless. Everything that does not need NAT is
// marked NOTRACK in the raw table, so conntrack only holds the LAN's outbound egress flows.
import type { Role } from '../src/roles/types.ts'

// systemd-sysctl (and procps at boot) read it.
const BOOT_SYSCTL = '/etc/sysctl.d/90-fleet-router.conf'

const router: Role = {
  description: 'NAT router: untracked web service, masqueraded LAN egress, locked-down FORWARD and INPUT',

  tasks({ host, task, ensure, ports, need, optional, common }) {
    const wan = need('wan.interface')
    const lan = need('lan.interface')
    const publicAddress = need('wan.address')
    const internal = need('internal')
    const egress = need('egress')
    const services = need('services')
    const untracked = optional('untracked')?.tcp ?? []
    // The same services are answered over IPv4 and IPv6.
    const acceptServices = (program: 'iptables' | 'ip6tables', title: string) =>
      task(title, async ($) => {
        if (services.tcp.length > 0) await $`${program} -A INPUT -p tcp -m multiport --dports ${ports(services.tcp)} -j ACCEPT`
        if (services.udp.length > 0) await $`${program} -A INPUT -p udp -m multiport --dports ${ports(services.udp)} -j ACCEPT`
      })

    return [
      task("untrack the router's own web service", async ($) => {
        for (const port of untracked) await $`iptables -t raw -A PREROUTING -d ${publicAddress} -p tcp --dport ${port} -j NOTRACK`
        for (const port of untracked) await $`iptables -t raw -A OUTPUT -s ${publicAddress} -p tcp --sport ${port} -j NOTRACK`
      }),
      task('untrack traffic within the internal network', async ($) => {
        await $`iptables -t raw -A PREROUTING -s ${internal} -d ${internal} -j NOTRACK`
        await $`iptables -t raw -A OUTPUT -s ${internal} -d ${internal} -j NOTRACK`
      }),
      // Replies to the LAN's egress come back from the allowed ports; everything else arriving on
      // the WAN is untracked, so it is never de-NATed and the INPUT/FORWARD drops catch it.
      task('untrack inbound internet traffic that is not a reply to allowed egress', async ($) => {
        if (egress.tcp.length > 0) await $`iptables -t raw -A PREROUTING -i ${wan} -p tcp -m multiport ! --sports ${ports(egress.tcp)} -j NOTRACK`
        else await $`iptables -t raw -A PREROUTING -i ${wan} -p tcp -j NOTRACK`
        if (egress.udp.length > 0) await $`iptables -t raw -A PREROUTING -i ${wan} -p udp -m multiport ! --sports ${ports(egress.udp)} -j NOTRACK`
        else await $`iptables -t raw -A PREROUTING -i ${wan} -p udp -j NOTRACK`
      }),
      task('masquerade the LAN going out to the internet', async ($) => {
        await $`iptables -t nat -A POSTROUTING -o ${wan} -j MASQUERADE`
      }),
      task('forward only LAN egress and its replies', async ($) => {
        await $`iptables -A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT`
        await $`iptables -A FORWARD -i ${lan} -o ${wan} -j ACCEPT`
        await $`iptables -A FORWARD -j DROP`
      }),
      acceptServices('iptables', 'accept the services the router exposes'),
      common.inputAllow(wan),
      task('drop everything else', async ($) => {
        await $`iptables -A INPUT -j DROP`
      }),
      task('set net.ipv4.ip_forward = 1', async ($) => {
        await ensure({
          check: $`sysctl -n net.ipv4.ip_forward`,
          want: '1',
          run: $`sysctl -q -w net.ipv4.ip_forward=1`,
          // The value before the change arrives on stdin.
          undo: $`tee /proc/sys/net/ipv4/ip_forward`,
        })
      }),
      // Where the rulesets persist for boot, forwarding does too: a router that reboots must route
      // again behind the rules netfilter-persistent restores (never without them: only with persist).
      ...(host.persist
        ? [
            task('keep net.ipv4.ip_forward = 1 at boot', async ($) => {
              await ensure({
                check: $`cat ${BOOT_SYSCTL} 2>/dev/null || true`,
                want: 'net.ipv4.ip_forward = 1',
                run: $`echo ${'net.ipv4.ip_forward = 1'} > ${BOOT_SYSCTL}`,
                undo: $`tee ${BOOT_SYSCTL}`,
              })
            }),
          ]
        : []),

      // IPv6: the same services and shared rules; nothing is forwarded unless a role says so.
      acceptServices('ip6tables', 'accept the services the router exposes (IPv6)'),
      common.inputAllow6(wan),
      task('drop everything else (IPv6)', async ($) => {
        await $`ip6tables -A INPUT -j DROP`
        await $`ip6tables -A FORWARD -j DROP`
      }),
    ]
  },
}

export default router
