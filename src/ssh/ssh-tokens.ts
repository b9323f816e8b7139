// The "~", %-tokens and ${ENV} that ssh expands in IdentityFile and UserKnownHostsFile
// (ssh_config(5) TOKENS, as OpenSSH 9 implements them).
import { createHash } from 'node:crypto'

export interface TokenContext {
  readonly home: string
  readonly localUser: string
  // gethostname(): %l whole, %L up to the first dot.
  readonly localHost: string
  readonly uid: number
  // The host as given (%n, and %k without a HostKeyAlias), and what it resolved to.
  readonly alias: string
  readonly hostKeyAlias?: string
  readonly remoteHost: string
  readonly remoteUser: string
  readonly port: number
  readonly env: Readonly<Record<string, string | undefined>>
}

export function expandTilde(file: string, home: string): string {
  return file === '~' ? home : file.startsWith('~/') ? home + file.slice(1) : file
}

// A string on failure: what ssh would refuse (an unknown token, an unset variable).
export function expandTokens(value: string, c: TokenContext): string | { readonly error: string } {
  const tokens: Record<string, string> = {
    '%': '%',
    C: createHash('sha1').update(`${c.localHost}${c.remoteHost}${c.port}${c.remoteUser}`).digest('hex'),
    d: c.home,
    h: c.remoteHost,
    i: String(c.uid),
    k: c.hostKeyAlias ?? c.alias,
    L: c.localHost.split('.')[0]!,
    l: c.localHost,
    n: c.alias,
    p: String(c.port),
    r: c.remoteUser,
    u: c.localUser,
  }
  let problem: string | undefined
  const expanded = expandTilde(value, c.home).replace(/%(.?)|\$\{([^}]*)\}/g, (whole, token: string | undefined, name: string | undefined) => {
    if (name !== undefined) {
      const v = c.env[name]
      if (v === undefined) problem ??= `environment variable \${${name}} is not set`
      return v ?? whole
    }
    const v = tokens[token!]
    if (v === undefined) problem ??= `unknown token %${token}`
    return v ?? whole
  })
  return problem !== undefined ? { error: problem } : expanded
}
