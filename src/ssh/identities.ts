// The operator's keys: identity files read once per run, then the agent at SSH_AUTH_SOCK, offered
// to ssh2 in that order (as OpenSSH does). A key file protected by a passphrase is unlocked once,
// before any host is contacted: asked for on a terminal (unless the agent already holds that
// key), and without a terminal left to the agent, or refused with a message saying how.
// With IdentitiesOnly, OpenSSH still signs with the agent's keys whose public half an IdentityFile
// names (the file's own, FILE.pub, or a .pub named as the IdentityFile: the private half may live
// only in the agent or on a token), and offers no other agent key (sshconnect2.c pubkey_prepare).
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
  | { readonly type: 'agent'; readonly username: string; readonly agent: string | InstanceType<typeof OpenSSHAgent> }

// A public key as the agent and .pub files write it: its SSH wire form, base64.
type PublicKey = string

type KeyFile =
  | { readonly kind: 'key'; readonly key: ParsedKey }
  // Only the agent can sign for it: protected by a passphrase and not unlocked, or only its public
  // half is here. `publicKey`: that half, when known (IdentitiesOnly lets the agent use only these).
  // `agent`: whether the agent holds it, when asked (or why it could not be).
  | { readonly kind: 'agent-only'; readonly publicKey?: PublicKey; readonly locked: boolean; readonly agent?: AgentAnswer }
  | { readonly kind: 'unusable' }

type AgentAnswer = 'holds' | 'lacks' | 'no agent' | { readonly unreachable: string }

// The agent at `socket`, showing only the keys in `allowed`.
class AgentKeys extends OpenSSHAgent {
  constructor(
    socket: string,
    private readonly allowed: ReadonlySet<PublicKey>,
  ) {
    super(socket)
  }

  // OpenSSHAgent lists the agent's keys as ParsedKey (the types also allow other forms).
  override getIdentities(cb: (error: Error | undefined, keys?: ParsedKey[]) => void): void {
    super.getIdentities((error, keys) => (error ? cb(error) : cb(undefined, ((keys ?? []) as ParsedKey[]).filter((k) => this.allowed.has(publicKeyOf(k))))))
  }
}

function publicKeyOf(key: ParsedKey): PublicKey {
  return key.getPublicSSH().toString('base64')
}

const PASSPHRASE_TRIES = 3

export class Identities {
  private readonly files = new Map<string, KeyFile>()
  private agentKeys: Promise<Set<PublicKey> | Error> | undefined

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
    const agentOnly = new Set<PublicKey>()
    for (const file of spec.identityFiles) {
      if (!this.files.has(file)) this.files.set(file, this.readPlain(file) ?? { kind: 'unusable' })
      const loaded = this.files.get(file)!
      if (loaded.kind === 'key') methods.push({ type: 'publickey', username: spec.user, key: loaded.key })
      if (loaded.kind === 'agent-only' && loaded.publicKey !== undefined) agentOnly.add(loaded.publicKey)
    }
    if (this.agent && !spec.identitiesOnly) methods.push({ type: 'agent', username: spec.user, agent: this.agent })
    if (this.agent && spec.identitiesOnly && agentOnly.size > 0) methods.push({ type: 'agent', username: spec.user, agent: new AgentKeys(this.agent, agentOnly) })
    if (methods.length === 0) {
      const files = spec.identityFiles.join(', ') || 'the default key files'
      throw new HostError(
        (this.agent
          ? `no SSH key: none of ${files} is a usable key, nor the public half of a key the agent holds (IdentitiesOnly yes)`
          : `no SSH key: none of ${files} is a usable key and SSH_AUTH_SOCK is not set`) + this.agentProblems(spec).map((p) => `; ${p}`).join(''),
      )
    }
    return methods
  }

  // Why key files this host could only use through the agent were of no use (for the message when
  // authentication fails): each says what to do.
  agentProblems(spec: ConnectSpec): string[] {
    return spec.identityFiles.flatMap((file) => {
      const loaded = this.files.get(file)
      if (loaded?.kind !== 'agent-only') return []
      if (loaded.locked) return [`${file} needs its passphrase and the agent does not hold it (ssh-add ${file}, or run on a terminal)`]
      return loaded.agent === undefined || loaded.agent === 'holds' ? [] : [publicKeyProblem(file, loaded.agent, this.agent)]
    })
  }

  // A private key, a public key alone (the IdentityFile is a .pub, or only FILE.pub is there), or
  // undefined for a key behind a passphrase.
  private readPlain(file: string): KeyFile | undefined {
    if (!existsSync(file)) {
      const publicKey = publicKeyIn(`${file}.pub`)
      return publicKey !== undefined ? { kind: 'agent-only', publicKey, locked: false } : { kind: 'unusable' }
    }
    const key = utils.parseKey(readFileSync(file))
    if (!(key instanceof Error)) return key.isPrivateKey() ? { kind: 'key', key } : { kind: 'agent-only', publicKey: publicKeyOf(key), locked: false }
    return /passphrase/i.test(key.message) ? undefined : { kind: 'unusable' }
  }

  private async read(file: string, ask: AskSecret | undefined): Promise<KeyFile> {
    const plain = this.readPlain(file)
    // Only a public key: the agent must sign for it, so ask it now, to say so if it cannot.
    if (plain?.kind === 'agent-only' && plain.publicKey !== undefined) return { ...plain, agent: await this.agentHas(plain.publicKey) }
    if (plain) return plain
    const locked = { kind: 'agent-only', locked: true, ...(existsSync(`${file}.pub`) && { publicKey: publicKeyIn(`${file}.pub`) }) } as const
    if (locked.publicKey !== undefined && (await this.agentHas(locked.publicKey)) === 'holds') return locked
    if (!ask) {
      if (this.agent) return locked
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

  // Whether the agent holds this key (then no passphrase is needed, and a public key file serves).
  private async agentHas(publicKey: PublicKey): Promise<AgentAnswer> {
    if (!this.agent) return 'no agent'
    this.agentKeys ??= new Promise((resolve) =>
      new OpenSSHAgent(this.agent!).getIdentities((error, keys) => resolve(error ?? new Set(((keys ?? []) as ParsedKey[]).map(publicKeyOf)))),
    )
    const keys = await this.agentKeys
    if (keys instanceof Error) return { unreachable: keys.message }
    return keys.has(publicKey) ? 'holds' : 'lacks'
  }
}

// A public key file whose key no agent signs for (the identity file holds a public key, or is not
// there and FILE.pub is): what is wrong and what to do. The private key's likely file is a .pub's
// name without it, when that is there.
function publicKeyProblem(file: string, answer: Exclude<AgentAnswer, 'holds'>, agent: string | undefined): string {
  const privateFile = file.replace(/\.pub$/, '')
  const what = `the public key file ${existsSync(file) ? file : `${file}.pub (${file} is not there)`}`
  const add = `ssh-add ${privateFile !== file && existsSync(privateFile) ? privateFile : 'PRIVATE_KEY_FILE'}`
  const remedy = `add its private key to the agent (${add}) or name the private key file as the identity`
  if (answer === 'no agent') {
    return `only an agent can sign with the key of ${what}: start one with its private key (eval "$(ssh-agent)"; ${add}) and run fleet with SSH_AUTH_SOCK set, or name the private key file as the identity`
  }
  if (answer === 'lacks') return `the agent at ${agent} (SSH_AUTH_SOCK) does not hold the key of ${what}: ${remedy}`
  return `the agent at ${agent} (SSH_AUTH_SOCK) could not be asked for the key of ${what} (${answer.unreachable}): is it running? Then ${remedy}`
}

// The public key in a .pub file; undefined when there is none.
function publicKeyIn(file: string): PublicKey | undefined {
  if (!existsSync(file)) return undefined
  const key = utils.parseKey(readFileSync(file))
  return key instanceof Error ? undefined : publicKeyOf(key)
}
