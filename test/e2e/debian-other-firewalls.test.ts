// Other firewalls next to fleet's on real Debian machines: rules in the other iptables backend; an
// /etc/nftables.conf of the administrator's, loaded by nftables.service; and Debian's stock one,
// whose `flush ruleset` can erase what netfilter-persistent restored. The kernel runs packets
// through all of them, so fleet never calls such a host in sync.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { LAB, labDown, labUp } from '../helpers/lab.ts'
import { DEBIAN_INVENTORY, FIRST_BOOT_TIMEOUT_MS, machineRuleset, onMachine, onMachineOk, rebootMachine } from '../helpers/machines.ts'

type Other = { source: string; table: string; chain: string; line: string }
type HostReport = { host: string; outcome: string; detail?: string; otherFirewalls?: Other[]; warnings?: string[] }
const run = async (command: string, inventory: string, ...args: string[]) => {
  const result = await fleet([command, '-i', inventory, '--json', ...args])
  return { code: result.code, hosts: Object.fromEntries((JSON.parse(result.stdout) as { hosts: HostReport[] }).hosts.map((h) => [h.host, h])) }
}
// The lab's Debian inventory with something added under `defaults` (beside it: its paths are relative).
function inventoryWith(name: string, defaults: string): string {
  const file = path.join(LAB, `${name}.yaml`)
  writeFileSync(file, readFileSync(DEBIAN_INVENTORY, 'utf8').replace('defaults:\n', `defaults:\n${defaults}`))
  return file
}

// What administrators write in /etc/nftables.conf: an input chain that drops what it does not allow.
const NFTABLES_CONF = `#!/usr/sbin/nft -f
flush ruleset
table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif lo accept
    tcp dport { 22, 2222 } accept
  }
}
`

beforeAll(() => {
  labUp('--debian', '3')
  process.env.XDG_STATE_HOME = path.join(LAB, 'operator-state')
}, FIRST_BOOT_TIMEOUT_MS)
afterAll(() => labDown())

describe('a host with rules in both iptables backends', () => {
  it('is reported, never silently in sync, whichever backend it uses', async () => {
    onMachineOk('deb03', 'update-alternatives --quiet --set iptables /usr/sbin/iptables-legacy && update-alternatives --quiet --set ip6tables /usr/sbin/ip6tables-legacy')
    expect((await run('apply', DEBIAN_INVENTORY, '--limit', 'deb03')).code).toBe(0)
    expect((await run('audit', DEBIAN_INVENTORY, '--limit', 'deb03')).code).toBe(0)
    // What a script written for the other backend leaves behind.
    onMachineOk('deb03', 'iptables-nft -A INPUT -s 198.51.100.66 -p tcp --dport 22 -j DROP')
    const audited = await run('audit', DEBIAN_INVENTORY, '--limit', 'deb03')
    expect(audited.code).toBe(3)
    expect(audited.hosts.deb03).toMatchObject({
      outcome: 'drift',
      otherFirewalls: [{ source: 'iptables-nft', table: 'filter', chain: 'INPUT', line: '-A INPUT -s 198.51.100.66/32 -p tcp -m tcp --dport 22 -j DROP' }],
    })
    const refused = await run('apply', DEBIAN_INVENTORY, '--limit', 'deb03')
    expect(refused.hosts.deb03?.outcome).toBe('failed')
    expect(refused.hosts.deb03?.detail).toContain('iptables-nft')
  })
})

describe('a host whose nftables.service loads a table of its own', () => {
  it('is drift in audit, left alone by apply, and applied with `otherFirewalls: proceed`', async () => {
    onMachineOk('deb01', `cat > /etc/nftables.conf <<'CONF'\n${NFTABLES_CONF}CONF\nsystemctl enable --now --quiet nftables`)
    expect(onMachineOk('deb01', 'nft list tables')).toContain('table inet filter')
    const audited = await run('audit', DEBIAN_INVENTORY, '--limit', 'deb01')
    expect(audited.code).toBe(3)
    expect(audited.hosts.deb01?.outcome).toBe('drift')
    expect(audited.hosts.deb01?.otherFirewalls).toEqual([expect.objectContaining({ source: 'nftables', table: 'inet filter', chain: 'input' })])

    const before = machineRuleset('deb01')
    const refused = await run('apply', DEBIAN_INVENTORY, '--limit', 'deb01')
    expect(refused.code).toBe(1)
    expect(refused.hosts.deb01?.outcome).toBe('failed')
    expect(refused.hosts.deb01?.detail).toContain('nftables table inet filter also filters traffic on this host')
    expect(machineRuleset('deb01')).toBe(before)

    const proceed = inventoryWith('debian-proceed', '  otherFirewalls: proceed\n')
    const applied = await run('apply', proceed, '--limit', 'deb01')
    expect(applied.code).toBe(0)
    expect(applied.hosts.deb01?.outcome).toBe('changed')
    expect(machineRuleset('deb01')).toContain('-A INPUT -j DROP')
    expect(onMachineOk('deb01', 'nft list tables')).toContain('table inet filter')
  })

  it('with proceed, a table that lets fleet in once but not again is still caught by the confirmation', async () => {
    onMachineOk('deb01', 'iptables -I INPUT -p tcp --dport 7400 -j ACCEPT')
    const before = machineRuleset('deb01')
    // An SSH rate limit on port 22 as nftables.conf files have them: fleet's first connection gets
    // in, the fresh one that confirms does not. Port 2222 stays open for this test.
    onMachineOk(
      'deb01',
      `nft -f - <<'NFT'
table inet sshguard {
  chain input {
    type filter hook input priority -10; policy accept;
    tcp dport 22 tcp flags & (syn | ack) == syn limit rate 1/hour burst 1 packets accept
    tcp dport 22 tcp flags & (syn | ack) == syn drop
  }
}
NFT`,
    )
    const result = await run('apply', inventoryWith('debian-proceed', '  otherFirewalls: proceed\n'), '--limit', 'deb01', '--confirm-timeout', '10')
    expect(result.hosts.deb01?.outcome).toBe('rolled-back')
    expect(result.code).toBe(1)
    expect(onMachineOk('deb01', 'nft delete table inet sshguard && iptables-save', 2222)).toContain('7400')
    expect(machineRuleset('deb01')).toBe(before)
  })
})

describe("Debian's stock nftables.service next to netfilter-persistent", () => {
  it('is warned about on apply and audit; its `flush ruleset` erases the persisted rules, and audit says so', async () => {
    onMachineOk('deb02', 'systemctl enable --quiet nftables')
    expect(onMachineOk('deb02', 'head -3 /etc/nftables.conf')).toContain('flush ruleset')
    const persisting = inventoryWith('debian-persist', '  persist: true\n')
    const applied = await run('apply', persisting, '--limit', 'deb02')
    expect(applied.hosts.deb02?.outcome).toBe('changed')
    expect(applied.hosts.deb02?.warnings?.join('\n')).toMatch(/nftables.service is enabled next to netfilter-persistent/)
    const confirmed = machineRuleset('deb02')

    // A real boot: here nftables.service runs first and netfilter-persistent restores after it,
    // so fleet's rules are back; audit agrees with what the kernel holds, and still warns.
    rebootMachine('deb02')
    const afterBoot = machineRuleset('deb02')
    const audited = await run('audit', persisting, '--limit', 'deb02')
    expect(audited.hosts.deb02?.outcome).toBe(afterBoot === confirmed ? 'in-sync' : 'drift')
    expect(audited.hosts.deb02?.warnings?.join('\n')).toMatch(/nftables.service is enabled next to netfilter-persistent/)

    // The other order (nftables.service started after netfilter-persistent, or simply restarted):
    // fleet's rules are gone, and audit never calls that in sync.
    onMachineOk('deb02', 'systemctl restart nftables')
    expect(machineRuleset('deb02')).not.toContain('-A INPUT -j DROP')
    const flushed = await run('audit', persisting, '--limit', 'deb02')
    expect(flushed.code).toBe(3)
    expect(flushed.hosts.deb02?.outcome).toBe('drift')
    expect(onMachine('deb02', 'hostname').stdout.trim()).toBe('deb02')
  })
})
