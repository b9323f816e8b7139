// The inventory's value checks (src/net/values.ts) as JSON Schema patterns, for editors. Each one
// accepts at least what its check accepts (a unit test holds them to it); where a pattern cannot
// say it all (IPv6, host bits), the check has the last word when fleet loads the file.
const octet = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
const ipv4 = `${octet}(\\.${octet}){3}`
const label = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'

export const PATTERN = {
  ipv4: `^${ipv4}$`,
  cidr: `^${ipv4}/(3[0-2]|[12]?[0-9])$`,
  cidr6: '^[0-9A-Fa-f:.]+/(12[0-8]|1[01][0-9]|[1-9]?[0-9])$',
  iface: '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}\\+?$',
  // An IPv4 address, something with a colon (IPv6), or a DNS name that is not all digits and dots.
  address: `^(${ipv4}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*|(?![0-9.]+$)${label}(\\.${label})*)$`,
  roleName: '^[a-z][a-z0-9-]{0,62}$',
  hostName: `^${label}(\\.${label})*$`,
  user: '^[a-z_][a-z0-9_-]{0,31}$',
  localPath: '^[^\\n\\u0000]+$',
  preservePattern: '^!?[A-Za-z0-9_.*?-]{1,28}$',
} as const
