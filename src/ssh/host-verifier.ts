// fleet's own host key check, handed to ssh2 as `hostVerifier`: the host's known hosts files (the
// user's, then the global ones, as ssh_config names them) read once per run (hashed entries,
// [host]:port, HostKeyAlias, @revoked), unknown keys refused unless the operator accepts new ones
// (recorded in the first user file), changed keys always refused, each refusal explained.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import ssh2 from 'ssh2'
import { quote } from '../shell/quote.ts'
import type { ConnectSpec } from './connect-spec.ts'
import { hostsFieldMatches, knownHostsName, parseKnownHosts, preferredHostKeyAlgorithms, verifyHostKey, type KnownHostEntry } from './known-hosts.ts'

// ssh2 is CommonJS; its named exports are only reachable through the default export under ESM.
const { utils } = ssh2

export interface HostCheck {
  // Host key algorithms to ask for, in the order known_hosts makes useful (undefined: ssh2's).
  readonly algorithms: string[] | undefined
  readonly verify: (key: Buffer) => boolean
}

export class HostKeys {
  private readonly files = new Map<string, KnownHostEntry[]>()

  constructor(private readonly acceptNew: boolean) {}

  // `onProblem` receives why a key was refused: ssh2 only reports a generic handshake failure.
  check(spec: ConnectSpec, onProblem: (problem: string) => void): HostCheck {
    const files = [...spec.knownHostsFiles, ...spec.globalKnownHostsFiles]
    const entries = files.flatMap((file) => this.entriesOf(file))
    const record = spec.knownHostsFiles[0]
    const name = knownHostsName(spec.address, spec.port, spec.hostKeyAlias)
    // Where the host's key is listed, for the command that removes a changed one.
    const listedIn = () => files.find((file) => this.entriesOf(file).some((e) => e.marker === undefined && hostsFieldMatches(e.hosts, name)))
    const searched = files.join(', ') || 'no known hosts file (UserKnownHostsFile none)'
    return {
      algorithms: preferredHostKeyAlgorithms(entries, name),
      verify: (key) => {
        const parsed = utils.parseKey(key)
        if (parsed instanceof Error) return onProblem(`unreadable host key: ${parsed.message}`), false
        const keyType = parsed.type
        const keyBase64 = key.toString('base64')
        const verdict = verifyHostKey(entries, name, keyType, keyBase64)
        switch (verdict.kind) {
          case 'match':
            return true
          case 'revoked':
            onProblem(`host key of ${spec.name} (${name}) is marked @revoked in ${searched}; refusing to connect`)
            return false
          case 'changed': {
            const listed = listedIn() ?? searched
            onProblem(
              `HOST KEY CHANGED for ${spec.name} (${name}): the ${keyType} key it presents does not match ${listed}. ` +
                `Someone may be intercepting the connection, or the host was reinstalled. Check the new key, then remove the old entry ` +
                `(ssh-keygen -R ${quote(name)} -f ${quote(listed)}).`,
            )
            return false
          }
          case 'unknown':
            if (this.acceptNew && record !== undefined) {
              mkdirSync(path.dirname(record), { recursive: true })
              appendFileSync(record, `${name} ${keyType} ${keyBase64}\n`)
              // Hosts checked later in this run see it too.
              this.entriesOf(record).push({ hosts: name, keyType, key: keyBase64 })
              return true
            }
            onProblem(
              `unknown host key for ${spec.name} (${name}): it is not in ${searched}. ` +
                `Verify it and add it (ssh-keyscan), or run with --accept-new-host-keys.`,
            )
            return false
        }
      },
    }
  }

  private entriesOf(file: string): KnownHostEntry[] {
    let entries = this.files.get(file)
    if (!entries) {
      entries = parseKnownHosts(existsSync(file) ? readFileSync(file, 'utf8') : '')
      this.files.set(file, entries)
    }
    return entries
  }
}
