// The seed's network with real Debian machines as its internal servers: after `fleet apply`, they
// reach the internet only on the egress ports, through router01's NAT; LAN traffic is untracked and
// still flows; the operator still gets in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fleet } from '../helpers/cli.ts'
import { labDown, labUp, onHost } from '../helpers/lab.ts'
import { DEBIAN_INVENTORY, FIRST_BOOT_TIMEOUT_MS, onMachine, onMachineOk } from '../helpers/machines.ts'

// What a client on the machine gets from HOST:PORT: the answer, "timeout" (dropped) or "refused".
const python = (code: string) => `python3 -c '${code}'`
const tcp = (name: string, host: string, port: number) =>
  onMachine(
    name,
    python(`import socket
try:
    s = socket.create_connection(("${host}", ${port}), timeout=3)
    print(s.recv(4096).decode().split("\\r\\n\\r\\n")[-1].strip())
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")`),
  ).stdout.trim()
const udp = (name: string, host: string, port: number) =>
  onMachine(
    name,
    python(`import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"q", ("${host}", ${port}))
try:
    print(s.recvfrom(4096)[0].decode().strip())
except socket.timeout:
    print("timeout")`),
  ).stdout.trim()

beforeAll(async () => {
  labUp('--debian', '2')
  // deb02 serves tcp 8000 on the LAN, as an internal service would (a unit of its own).
  onMachineOk(
    'deb02',
    `systemd-run --quiet --unit lan-service ${python(`import socket
srv = socket.create_server(("", 8000))
while True:
    c, _ = srv.accept(); c.sendall(b"deb02:8000"); c.close()`)}`,
  )
  const result = await fleet(['apply', '-i', DEBIAN_INVENTORY, '--json'])
  expect(result.code).toBe(0)
}, FIRST_BOOT_TIMEOUT_MS)
afterAll(() => labDown())

describe('Debian machines as the internal servers of the seed network', () => {
  it('reach the internet on tcp 80/443 and udp 53 only', () => {
    expect(tcp('deb01', '198.51.100.254', 80)).toBe('internet:80')
    expect(tcp('deb01', '198.51.100.254', 443)).toBe('internet:443')
    expect(udp('deb01', '198.51.100.254', 53)).toBe('internet:53')
    // 8080 is not an egress port: the reply is untracked at router01, never de-NATed, and the
    // client waits in vain.
    expect(tcp('deb01', '198.51.100.254', 8080)).toBe('timeout')
  })

  it("have their egress tracked at router01, and the LAN's own traffic not", () => {
    onHost('router01', 'conntrack -F')
    expect(tcp('deb01', '198.51.100.254', 80)).toBe('internet:80')
    expect(onHost('router01', 'conntrack -L -p tcp --orig-src 198.18.0.201 --orig-port-dst 80').stdout).toContain('dport=80')
    // The operator's SSH through router01 to the machines is LAN traffic from router01: untracked.
    expect(onMachine('deb01', 'hostname').stdout.trim()).toBe('deb01')
    expect(onHost('router01', 'conntrack -L -p tcp --orig-dst 198.18.0.201').stdout).not.toContain('dport=22')
  })

  it('talk to each other on the LAN', () => {
    expect(tcp('deb01', '198.18.0.202', 8000)).toBe('deb02:8000')
  })

  it('keep the operator able to SSH in, and are in sync afterwards', async () => {
    for (const name of ['deb01', 'deb02']) expect(onMachine(name, 'hostname').stdout.trim()).toBe(name)
    const audit = await fleet(['audit', '-i', DEBIAN_INVENTORY, '--json'])
    expect(audit.code).toBe(0)
  })
})
