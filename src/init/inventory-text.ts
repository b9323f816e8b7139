// The inventory `fleet init` prints: the seed's blanks filled from a router's guesses, with YAML
// comments saying what was guessed and why, for the operator to review. Pure. Every value in it
// has passed fleet's validators (router-facts.ts), so it is safe as a YAML plain scalar; file
// paths, which come from the operator, are quoted.
import type { RouterGuess } from './guess.ts'

export interface InitTarget {
  // The inventory host name of the router.
  readonly name: string
  // How the operator reaches it; absent when `name` is an ssh_config alias that says HostName.
  readonly address?: string
  readonly port?: number
  // What the operator typed, for the header ("root@203.0.113.10").
  readonly given: string
  // Where the name came from, for its comment.
  readonly nameWhy: string
}

export interface InitSsh {
  readonly user?: string
  readonly identity?: string
  readonly knownHosts?: string
  readonly config?: string
}

const ports = (list: readonly number[]) => `[${list.join(', ')}]`
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

function sshLines(ssh: InitSsh): string[] {
  const lines = [
    ...(ssh.user !== undefined ? [`    user: ${ssh.user}`] : []),
    ...(ssh.identity !== undefined ? [`    identity: ${JSON.stringify(ssh.identity)}`] : []),
    ...(ssh.knownHosts !== undefined ? [`    knownHosts: ${JSON.stringify(ssh.knownHosts)}`] : []),
    ...(ssh.config !== undefined ? [`    config: ${JSON.stringify(ssh.config)}`] : []),
  ]
  const agent = ssh.identity === undefined ? ['    # no identity: the agent at SSH_AUTH_SOCK, ssh_config IdentityFile or ~/.ssh/id_* are used'] : []
  return lines.length + agent.length > 0 ? ['  ssh:                            # how fleet init reached the router; every host shares it', ...lines, ...agent] : []
}

function networkDefaults(guess: RouterGuess): string[] {
  const lan = guess.lan
  return [
    '  network:',
    ...(lan
      ? [`    # the internal network: ${lan.why}`, `    internal: ${lan.internal}`]
      : ['    # internal: not found (no connected network besides the WAN): the internal network, e.g. 10.20.0.0/24']),
    ...(lan?.internal6 !== undefined ? [`    # its IPv6 prefix: the connected IPv6 route on ${lan.interface}`, `    internal6: ${lan.internal6}`] : []),
    "    # the internal servers' external interface (replies come back on it): the router cannot see it;",
    '    # eth0 is a guess, check with `ip route show default` on a server (e.g. ens18 on newer systems)',
    '    interface: eth0',
    "    # what the LAN may use on the internet: the seed's choice (SSH, HTTP, HTTPS out; DNS)",
    '    egress: { tcp: [22, 80, 443], udp: [53] }',
  ]
}

function routerEntry(target: InitTarget, guess: RouterGuess): string[] {
  const { wan, lan } = guess
  return [
    `  ${target.name}:  # ${target.nameWhy}`,
    ...(target.address !== undefined ? [`    address: ${target.address}`] : []),
    ...(target.port !== undefined ? [`    ssh: { port: ${target.port} }`] : []),
    '    role: router',
    '    network:',
    ...(wan
      ? [`      # WAN: ${wan.why}`, `      wan: { interface: ${wan.interface}${wan.address !== undefined ? `, address: ${wan.address}` : ''} }`]
      : ['      # wan: not found (no default route): { interface: <WAN interface>, address: <public address> }']),
    ...(lan ? [`      # LAN: ${lan.interface}, the internal network's interface`, `      lan: { interface: ${lan.interface} }`] : ['      # lan: not found: { interface: <LAN interface> }']),
    '      # answered from the internet: TCP ports listening on every address or on the WAN address,',
    `      # loopback left out${guess.notExposed.length > 0 ? `; listening on the LAN only, so not exposed: ${guess.notExposed.join(', ')}` : ''}`,
    `      services: { tcp: ${ports(guess.services)} }`,
    ...(guess.untracked.length > 0
      ? ["      # the seed never tracks the router's own (load-balanced) web service: its web ports above", `      untracked: { tcp: ${ports(guess.untracked)} }`]
      : []),
  ]
}

function serverEntries(target: InitTarget, guess: RouterGuess): string[] {
  const n = guess.servers.length
  const dev = guess.lan?.interface ?? 'the LAN'
  const head = [
    '',
    `  # Internal servers: ${plural(n, 'host')} in ${target.name}'s neighbour table on ${dev} (${guess.neighbourStates.join('/')}`,
    '  # entries in the internal network; not the WAN gateway, not link-local). The table only holds hosts',
    '  # the router has talked to in the last minutes: servers that were quiet are missing, add them by hand.',
    ...(n > 0 ? ['  # Named after their address: rename them.'] : []),
  ]
  return [
    ...head,
    ...guess.servers.flatMap((s) => [`  ${s.name}:`, `    address: ${s.address}`, '    role: internal-server', `    ssh: { jump: ${target.name} }`]),
  ]
}

export function inventoryText(target: InitTarget, ssh: InitSsh, guess: RouterGuess, when: string): string {
  const lines = [
    // yaml-language-server (VS Code's YAML extension, Neovim, ...) reads this line, as in the
    // shipped inventories; the schema is what `fleet schema` prints.
    '# yaml-language-server: $schema=./fleet.schema.json',
    '# (`fleet schema > fleet.schema.json` beside this file gives your editor the keys and their checks)',
    `# Written by \`fleet init --router ${target.given}\` on ${when}, from what the router reported`,
    '# (ip -j addr, ip -j route, ss -Hltn, ip -j neigh). Every value is a guess, explained next to it:',
    '# review it, then `fleet apply -i THIS_FILE --dry-run`.',
    ...(guess.missing.length > 0 ? [`# Not found, to fill in: ${guess.missing.join('; ')}.`] : []),
    'defaults:',
    ...sshLines(ssh),
    ...networkDefaults(guess),
    '',
    'hosts:',
    ...routerEntry(target, guess),
    ...serverEntries(target, guess),
  ]
  return lines.join('\n') + '\n'
}
