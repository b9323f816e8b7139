// The validated inventory: every value here has passed src/net/values.ts.

export interface PortSet {
  readonly tcp: readonly number[]
  readonly udp: readonly number[]
}

// The blanks of the seed (DESIGN §2). All optional at this level: each role says which it needs.
export interface NetworkValues {
  readonly internal?: string
  readonly internal6?: string
  readonly interface?: string
  readonly wan?: { readonly interface?: string; readonly address?: string }
  readonly lan?: { readonly interface?: string }
  readonly egress?: PortSet
  readonly services?: PortSet
  readonly untracked?: PortSet
}

export interface SshSettings {
  readonly user?: string
  readonly port?: number
  readonly identity?: string
  readonly knownHosts?: string
  readonly config?: string
  readonly jump?: string
}

export interface HostSpec {
  readonly name: string
  readonly address?: string
  readonly role: string
  readonly network: NetworkValues
  // Kept as two layers because ~/.ssh/config sits between them: what the host says explicitly
  // wins over ssh_config, which wins over the inventory's shared defaults.
  readonly ssh: { readonly host: SshSettings; readonly defaults: SshSettings }
  // The inventory host that this one is reached through (internal servers, behind the router).
  readonly jump?: string
  // "file:line:col" of the host's entry, for errors found after loading (role needs, SSH failures).
  readonly where: string
  readonly roleWhere: string
  // Patterns of chains that other software keeps in the same tables (Docker, fail2ban...): kept
  // intact by every change, listed as foreign by audit.
  readonly preserve: readonly string[]
  // Where the inventory writes the preserve list ("hosts.web01.preserve", and file:line:col of each
  // entry); absent for fleet's default list.
  readonly preserveFrom?: { readonly key: string; readonly where: readonly string[] }
  // Write the confirmed rulesets where the host restores them at boot (/etc/iptables/rules.v4, .v6).
  readonly persist: boolean
  // A host where the other iptables backend or native nftables tables also filter traffic:
  // 'refuse' leaves it unchanged (apply fails for it), 'proceed' applies alongside them.
  readonly otherFirewalls: 'refuse' | 'proceed'
}

export interface Inventory {
  readonly file: string
  readonly dir: string
  readonly rolePaths: readonly string[]
  readonly hosts: readonly HostSpec[]
}

// Chains Docker, Kubernetes, fail2ban, CNI plugins, Calico and libvirt keep in the same tables.
export const DEFAULT_PRESERVE: readonly string[] = ['DOCKER', 'DOCKER-*', 'KUBE-*', 'f2b-*', 'CNI-*', 'cali-*', 'LIBVIRT_*']
