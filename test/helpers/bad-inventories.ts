// The bad-input table: inventories fleet refuses, each with the one error line it must print
// (test/unit/inventory-errors.test.ts). test/unit/json-schema.test.ts holds the JSON Schema to the
// rows it can express; the rest are fleet's own checks, named in FLEETS_OWN_CHECKS.

export const good = `defaults:
  network:
    internal: 10.0.0.0/24
    interface: eth0
hosts:
  web01:
    address: 10.0.0.11
    role: internal-server
`

export const badInventories: [string, string, RegExp][] = [
  ['malformed YAML', 'hosts:\n  web01: [address\n', /:\d+:\d+: malformed YAML: Flow sequence/],
  ['a duplicate key', good + '    role: router\n', /:9:5: duplicate key/],
  ['an unknown role', good.replace('role: internal-server', 'role: webserver'), /:8:11: unknown role "webserver" for host web01; known roles: .*internal-server.*router/],
  ['an unknown key', good.replace('    address:', '    adress:'), /:7:5: unknown key "adress" in hosts\.web01; expected one of: address, role, ssh, network/],
  ['an address out of range', good.replace('10.0.0.11', '10.0.0.300'), /:7:14: hosts\.web01\.address: expected an IPv4 address like 203\.0\.113\.1 \(four numbers 0-255\), got "10\.0\.0\.300"/],
  ['a prefix out of range', good.replace('10.0.0.0/24', '10.0.0.0/33'), /:3:15: .*expected a prefix length 0-32 in "10\.0\.0\.0\/33"/],
  ['an interface with shell metacharacters', good.replace('interface: eth0', 'interface: eth0;reboot'), /:4:16: .*expected an interface name like eth0.*got "eth0;reboot"/],
  ['a port out of range', good.replace('    interface: eth0\n', '    interface: eth0\n    egress: { tcp: [22, 70000] }\n'), /:5:25: defaults\.network\.egress\.tcp\.1: .*expected a port number 1-65535, got 70000/],
  ['a missing role', good.replace('    role: internal-server\n', ''), /:7:5: hosts\.web01\.role: expected a string \(missing\)/],
  ['a jump host that is not in the inventory', good + '    ssh: { jump: router01 }\n', /:9:18: host web01: jump host "router01" is not a host of this inventory/],
  ['an unknown otherFirewalls value', good + '    otherFirewalls: ignore\n', /:9:21: hosts\.web01\.otherFirewalls: expected refuse \(the default: leave such a host unchanged\) or proceed \(apply alongside them\), got "ignore"/],
  ['a host that jumps to itself', good + '    ssh: { jump: web01 }\n', /:9:18: host web01: jumps to itself; a jump host is another host of this inventory/],
  ['an IPv6 prefix with host bits', good.replace('    interface: eth0\n', '    interface: eth0\n    internal6: 2001:db8:0:2::1/64\n'), /:5:16: defaults\.network\.internal6: "2001:db8:0:2::1\/64" has host bits set; the network is 2001:db8:0:2::\/64/],
  ['an IPv6 prefix with host bits past the last group', good.replace('    interface: eth0\n', '    interface: eth0\n    internal6: 2001:db8::/16\n'), /"2001:db8::\/16" has host bits set; the network is 2001::\/16/],
  ['a number where a role name belongs', good.replace('role: internal-server', 'role: 5'), /:8:11: hosts\.web01\.role: expected a string, got a number \(5\)/],
  ['a string where a list belongs', good + '    preserve: DOCKER\n', /:9:15: hosts\.web01\.preserve: expected a list, got a string \("DOCKER"\)/],
  ['a list where a mapping belongs', good + '    network: [eth0]\n', /:9:14: hosts\.web01\.network: expected a mapping, got a list/],
  ['a mapping where a port belongs', good + '    network: { services: { tcp: [{ port: 22 }] } }\n', /hosts\.web01\.network\.services\.tcp\.0: expected a number, got a mapping/],
  ['an empty host', good + '  web02:\n', /:9:3: hosts\.web02: expected a mapping, got nothing \(an empty value\)/],
  ['a duplicate host', good + '  web01:\n    role: router\n', /:9:3: duplicate key: each key may appear once in a mapping/],
  ['a YAML alias bomb', 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n' + good, /:6:\d+: YAML aliases expand to more than \d+ values/],
  ['an alias inside the value it names', 'hosts: &h\n  web01: *h\n', /:2:10: alias \*h is used inside the value it names/],
  ['nesting too deep', 'hosts: ' + '['.repeat(3000) + ']'.repeat(3000) + '\n', /:1:\d+: malformed YAML: nested too deeply for an inventory/],
  [
    'jump hosts that lead back to the host',
    good + '    ssh: { jump: web02 }\n  web02:\n    address: 10.0.0.12\n    role: internal-server\n    ssh: { jump: web01 }\n',
    /:9:18: host web01: the jump hosts form a loop: web01 -> web02 -> web01/,
  ],
  ['a value a role needs but nobody gives', good.replace('    interface: eth0\n', ''), /:5:3: host web01: role internal-server needs network\.interface/],
]

// Rows no JSON Schema can express: YAML itself, what needs the other hosts or the role files,
// arithmetic on addresses.
export const FLEETS_OWN_CHECKS = [
  'malformed YAML',
  'a duplicate key',
  'an unknown role',
  'a jump host that is not in the inventory',
  'a host that jumps to itself',
  'jump hosts that lead back to the host',
  'an IPv6 prefix with host bits',
  'an IPv6 prefix with host bits past the last group',
  'a duplicate host',
  'a YAML alias bomb',
  'an alias inside the value it names',
  'nesting too deep',
  'a value a role needs but nobody gives',
]
