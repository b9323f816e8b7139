// The lab's real machines: Debian 12 booting systemd in containers on the LAN, what fleet relies on
// inside them, real reboots, and a teardown that leaves nothing behind.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { labDown, labUp } from '../helpers/lab.ts'
import { DEBIAN_INVENTORY, FIRST_BOOT_TIMEOUT_MS, onMachine, onMachineOk, rebootMachine } from '../helpers/machines.ts'

const sh = (command: string) => execFileSync('sh', ['-c', command], { encoding: 'utf8' })

beforeAll(() => labUp('--debian', '2'), FIRST_BOOT_TIMEOUT_MS)
afterAll(() => labDown())

describe('Debian machines in the lab', () => {
  it('boot systemd as PID 1 to "running", each with its own name, machine id and host key', () => {
    for (const name of ['deb01', 'deb02']) {
      expect(onMachineOk(name, 'systemctl is-system-running').trim()).toBe('running')
      expect(onMachineOk(name, 'cat /proc/1/comm; hostname').split('\n').slice(0, 2)).toEqual(['systemd', name])
    }
    const ids = ['deb01', 'deb02'].map((n) => onMachineOk(n, 'cat /etc/machine-id').trim())
    expect(ids[0]).toMatch(/^[0-9a-f]{32}$/)
    expect(ids[0]).not.toBe(ids[1])
    const keys = ['deb01', 'deb02'].map((n) => onMachineOk(n, 'cat /etc/ssh/ssh_host_ed25519_key.pub').split(' ')[1])
    expect(keys[0]).not.toBe(keys[1])
    // The inventory of them names them behind router01.
    const inventory = readFileSync(DEBIAN_INVENTORY, 'utf8')
    expect(inventory).toMatch(/deb02:\n {4}address: 198\.18\.0\.202\n {4}role: internal-server\n {4}ssh: \{ jump: router01 \}/)
  })

  it('keep a transient systemd unit running after the SSH session that started it is gone', () => {
    onMachineOk('deb01', 'systemd-run --quiet --collect --unit lab-probe sleep 300')
    expect(onMachine('deb01', 'systemctl is-active lab-probe').stdout.trim()).toBe('active')
    onMachineOk('deb01', 'systemctl stop lab-probe')
  })

  it('run both iptables backends and native nft tables, each where the administrator put it', () => {
    onMachineOk('deb01', 'iptables-legacy -A INPUT -p tcp --dport 7001 -j ACCEPT')
    onMachineOk('deb01', 'nft add table inet mine && nft add chain inet mine input "{ type filter hook input priority 0; policy accept; }"')
    onMachineOk('deb01', 'iptables-nft -A INPUT -p tcp --dport 7002 -j ACCEPT')
    expect(onMachineOk('deb01', 'iptables-legacy-save')).toContain('--dport 7001')
    const nftSave = onMachineOk('deb01', 'iptables-nft-save 2>&1')
    expect(nftSave).toContain('--dport 7002')
    expect(nftSave).not.toContain('mine')
    expect(onMachineOk('deb01', 'nft list tables')).toContain('table inet mine')
  })

  it('reboot for real: netfilter state starts empty, the disk is kept', () => {
    onMachineOk('deb01', 'echo kept > /root/on-disk; ip6tables -A INPUT -p tcp --dport 7003 -j ACCEPT')
    const bootBefore = onMachineOk('deb01', 'cat /proc/sys/kernel/random/boot_id')
    rebootMachine('deb01')
    expect(onMachineOk('deb01', 'cat /proc/sys/kernel/random/boot_id')).not.toBe(bootBefore)
    expect(onMachineOk('deb01', 'systemctl is-system-running').trim()).toBe('running')
    expect(onMachineOk('deb01', 'cat /root/on-disk').trim()).toBe('kept')
    expect(onMachineOk('deb01', 'iptables-legacy-save; iptables-nft-save; ip6tables-save; nft list ruleset')).not.toMatch(/7001|7002|7003|mine/)
    expect(onMachineOk('deb01', 'ip -4 -o addr show dev eth0')).toContain('198.18.0.201/24')
    // The other machine did not notice.
    expect(onMachineOk('deb02', 'systemctl is-system-running').trim()).toBe('running')
  })

  it('go away with the lab: no container, overlay, cgroup or namespace left; the root filesystem stays cached', () => {
    const cached = sh('ls -d /var/cache/fleet-lab/debian-* | grep -v building').trim()
    labDown()
    expect(sh('ps -eo args')).not.toMatch(/systemd-nspawn .*-M deb0/)
    expect(sh('findmnt -rn -o TARGET')).not.toContain('/machines/deb0')
    expect(sh('ip netns list')).not.toContain('fleet-deb')
    for (const h of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup']) expect(existsSync(path.join(h, 'fleet-lab'))).toBe(false)
    expect(readdirSync(cached)).toContain('etc')
  })
})
