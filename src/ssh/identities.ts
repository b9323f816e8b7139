// The operator's keys: identity files read once per run, then the agent at SSH_AUTH_SOCK, offered
// to ssh2 in that order (as OpenSSH does). A key file protected by a passphrase is unlocked once,
// before any host is contacted: asked for on a terminal (unless the agent already holds that
// key), and without a terminal left to the agent, or refused with a message saying how.
import { existsSync, readFileSync } from 'node:fs'
import ssh2, { type ParsedKey } from 'ssh2'
import { InputError } from '../inventory/errors.ts'
import { HostError } from '../remote/transport.ts'
import type { ConnectSpec } from './connect-spec.ts'

// ssh2 is CommonJS; its named exports are only reachable through the default export under ESM.
const { utils, OpenSSHAgent } = ssh2

export type AskSecret = (message: string) => Promise<string>

export type AuthMethod =
  | { readonly type: 'publickey'; readonly username: string; readonly key: ParsedKey }
  | { readonly type: 'agent'; readonly username: string; readonly agent: string }

type KeyFile =
  | { readonly kind: 'key'; readonly key: ParsedKey }
  // Protected by a passphrase and not unlocked: only the agent can use it.
  | { readonly kind: 'locked' }
  | { readonly kind: 'unusable' }

const PASSPHRASE_TRIES = 3

export class Identities {
  private readonly files = new Map<string, KeyFile>()
  private agentKeys: Promise<Set<string>> | undefined

  constructor(private readonly agent: string | undefined = process.env.SSH_AUTH_SOCK) {}

  // Reads every key file these hosts use that is not read yet; `ask` is there only on a terminal.
  async load(specs: Iterable<ConnectSpec>, ask: AskSecret | undefined): Promise<void> {
    for (const host of specs) {
      // The jump hosts' keys too: a ProxyJump hop may use a key no inventory host uses.
      for (let spec: ConnectSpec | undefined = host; spec; spec = spec.jump) {
        for (const file of spec.identityFiles) {
          if (!this.files.has(file)) this.files.set(file, await this.read(file, ask))
        }
      }
    }
  }

  authMethods(spec: ConnectSpec): AuthMethod[] {
    const methods: AuthMethod[] = []
    for (const file of spec.identityFiles) {
      if (!this.files.has(file)) this.files.set(file, this.readPlain(file) ?? { kind: 'unusable' })
      const loaded = this.files.get(file)!
      if (loaded.kind === 'key') methods.push({ type: 'publickey', username: spec.user, key: loaded.key })
    }
    // IdentitiesOnly: the key files only, never the agent.
    if (this.agent && !spec.identitiesOnly) methods.push({ type: 'agent', username: spec.user, agent: this.agent })
    if (methods.length === 0) {
      throw new HostError(`no SSH key: none of ${spec.identityFiles.join(', ') || 'the default key files'} is a usable key and SSH_AUTH_SOCK is not set`)
    }
    return methods
  }

  // Key files these hosts could only use through the agent (for the message when that fails).
  locked(spec: ConnectSpec): string[] {
    return spec.identityFiles.filter((f) => this.files.get(f)?.kind === 'locked')
  }

  private readPlain(file: string): KeyFile | undefined {
    if (!existsSync(file)) return { kind: 'unusable' }
    const key = utils.parseKey(readFileSync(file))
    if (!(key instanceof Error)) return { kind: 'key', key: key as ParsedKey }
    return /passphrase/i.test(key.message) ? undefined : { kind: 'unusable' }
  }

  private async read(file: string, ask: AskSecret | undefined): Promise<KeyFile> {
    const plain = this.readPlain(file)
    if (plain) return plain
    if (await this.agentHolds(file)) return { kind: 'locked' }
    if (!ask) {
      if (this.agent) return { kind: 'locked' }
      throw new InputError(
        `identity file ${file} is protected by a passphrase and there is no terminal to ask for it: ` +
          `add it to an agent (eval "$(ssh-agent)"; ssh-add ${file}) and run fleet with SSH_AUTH_SOCK set`,
      )
    }
    const data = readFileSync(file)
    for (let attempt = 1; attempt <= PASSPHRASE_TRIES; attempt++) {
      const key = utils.parseKey(data, await ask(`Passphrase for ${file}${attempt > 1 ? ' (wrong, try again)' : ''}:`))
      if (!(key instanceof Error)) return { kind: 'key', key: key as ParsedKey }
    }
    throw new InputError(`identity file ${file}: wrong passphrase, ${PASSPHRASE_TRIES} times`)
  }

  // Whether the agent holds the key whose public half is FILE.pub (then no passphrase is needed).
  private async agentHolds(file: string): Promise<boolean> {
    const pub = `${file}.pub`
    if (!this.agent || !existsSync(pub)) return false
    this.agentKeys ??= new Promise((resolve) =>
      new OpenSSHAgent(this.agent!).getIdentities((error, keys) =>
        resolve(new Set(error ? [] : (keys ?? []).map((k) => (k as ParsedKey).getPublicSSH().toString('base64')))),
      ),
    )
    return (await this.agentKeys).has(readFileSync(pub, 'utf8').trim().split(/\s+/)[1] ?? '')
  }
}
