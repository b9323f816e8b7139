// SSH through node-ssh: host keys checked by fleet against known_hosts, keys from files or the
// agent, internal servers reached through a jump host (forwardOut on the jump's connection, then a
// connection over that channel) whose one connection is shared by the hosts behind it.
// Every failure becomes a HostError for that host; nothing here may crash the process.
import { NodeSSH, type Config } from 'node-ssh'
import type { Channel } from 'ssh2'
import { HostError, type Session } from '../remote/transport.ts'
import type { ConnectSpec } from './connect-spec.ts'
import { HostKeys } from './host-verifier.ts'
import { Identities } from './identities.ts'
import { Link } from './link.ts'
import { SshSession } from './ssh-session.ts'
import type { SudoPassword } from './sudo.ts'

export interface SshOptions {
  // StrictHostKeyChecking=accept-new: record unknown keys; changed keys are refused regardless.
  readonly acceptNewHostKeys: boolean
  readonly connectTimeoutMs: number
  readonly commandTimeoutSec: number
}

// What authenticates a run, read or asked for once per command (see cli/credentials.ts).
export interface Credentials {
  readonly identities: Identities
  readonly sudo?: SudoPassword
}

export const DEFAULT_SSH_OPTIONS: SshOptions = { acceptNewHostKeys: false, connectTimeoutMs: 15_000, commandTimeoutSec: 120 }

export class SshTransport {
  // One shared connection per jump host; fresh connections (for confirmation) bypass it.
  private readonly jumps = new Map<string, Promise<Link>>()
  private readonly links = new Set<Link>()
  // Read once per run: every host shares the known_hosts file and, usually, the key.
  private readonly hostKeys: HostKeys
  private readonly identities: Identities

  constructor(
    private readonly options: SshOptions = DEFAULT_SSH_OPTIONS,
    private readonly credentials: Credentials = { identities: new Identities() },
  ) {
    this.hostKeys = new HostKeys(options.acceptNewHostKeys)
    this.identities = credentials.identities
  }

  // `fresh`: a new TCP connection (and new jump connections), never a channel of an existing one;
  // what confirmation needs to prove that the new ruleset still admits the operator.
  // `connectTimeoutMs` bounds each connection made here (confirmation's deadline).
  async open(spec: ConnectSpec, { fresh = false, connectTimeoutMs }: { fresh?: boolean; connectTimeoutMs?: number } = {}): Promise<Session> {
    const own: Link[] = []
    try {
      const link = await this.reach(spec, connectTimeoutMs, fresh ? own : undefined)
      return new SshSession(link, spec, this.options.commandTimeoutSec, this.credentials.sudo, own)
    } catch (error) {
      own.forEach((l) => l.end())
      throw error
    }
  }

  closeAll(): void {
    for (const link of this.links) link.end()
    this.jumps.clear()
  }

  // A connection to `spec`, through its jump host if it has one (and that one's, in turn).
  // `own` collects the jump connections made for a fresh session; without it jumps are shared.
  private async reach(spec: ConnectSpec, timeoutMs: number | undefined, own?: Link[]): Promise<Link> {
    const ms = this.timeoutFor(spec, timeoutMs)
    if (!spec.jump) return this.connect(spec, ms)
    let jump: Link
    if (own) own.push((jump = await this.reach(spec.jump, timeoutMs, own)))
    else jump = await this.sharedJump(spec.jump)
    return this.connect(spec, ms, await this.forward(jump, spec, ms))
  }

  // A host's ConnectTimeout replaces the default, and never exceeds the bound of this call.
  private timeoutFor(spec: ConnectSpec, bound: number | undefined): number {
    if (spec.connectTimeoutMs === undefined) return bound ?? this.options.connectTimeoutMs
    return Math.min(bound ?? Infinity, spec.connectTimeoutMs)
  }

  // Shared per hop: the same user at the same address and port, reached the same way.
  private sharedJump(spec: ConnectSpec): Promise<Link> {
    const key = hopKey(spec)
    let jump = this.jumps.get(key)
    if (!jump) {
      jump = this.reach(spec, undefined)
      // A failed or dropped jump connection must not be reused by the hosts that come later.
      const forget = () => this.jumps.get(key) === jump && this.jumps.delete(key)
      jump.then((j) => j.closed.then(forget), forget)
      this.jumps.set(key, jump)
    }
    return jump
  }

  // Bounded like a direct connection: the jump host's own connect to a host whose firewall drops
  // the SYN takes minutes to give up, and a confirmation must fail within its budget.
  private async forward(jump: Link, spec: ConnectSpec, timeoutMs: number): Promise<Channel> {
    const through = `through jump host ${spec.jump?.name}`
    if (jump.lost) throw new HostError(`cannot reach ${spec.address}:${spec.port} ${through}: ${jump.lost}`)
    const opening = jump.ssh.forwardOut('127.0.0.1', 0, spec.address, spec.port)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        opening.then((channel) => channel.close(), () => {})
        reject(new Error(`no answer within ${timeoutMs / 1000}s`))
      }, timeoutMs)
    })
    try {
      const channel = await Promise.race([opening, late])
      channel.on('error', () => {})
      return channel
    } catch (error) {
      throw new HostError(`cannot reach ${spec.address}:${spec.port} ${through}: ${jump.lost ?? (error as Error).message}`)
    } finally {
      clearTimeout(timer)
    }
  }

  private async connect(spec: ConnectSpec, timeoutMs: number, sock?: Channel): Promise<Link> {
    let hostKeyProblem: string | undefined
    const hostCheck = this.hostKeys.check(spec, (problem) => (hostKeyProblem = problem))
    const config: Config = {
      ...(sock ? { sock } : { host: spec.address, port: spec.port }),
      username: spec.user,
      readyTimeout: timeoutMs,
      keepaliveInterval: 5_000,
      keepaliveCountMax: 3,
      ...(hostCheck.algorithms && { algorithms: { serverHostKey: hostCheck.algorithms as never } }),
      authHandler: this.identities.authMethods(spec) as never,
      hostVerifier: hostCheck.verify,
    }
    const ssh = new NodeSSH()
    const connecting = ssh.connect(config)
    // node-ssh makes its ssh2 client synchronously inside connect(): the lifelong listeners go on
    // before any byte arrives.
    if (!ssh.connection) throw new HostError(await connecting.then(() => 'no connection', (e: Error) => e.message))
    const link = new Link(ssh, ssh.connection)
    this.links.add(link)
    link.closed.then(() => this.links.delete(link))
    try {
      await connecting
      return link
    } catch (error) {
      link.end()
      throw new HostError(hostKeyProblem ?? describeConnectError(error as Error, spec, this.identities.agentProblems(spec)))
    }
  }
}

// `agentProblems`: why key files only the agent could use were of no use (identities.ts).
function describeConnectError(error: Error & { code?: string; level?: string }, spec: ConnectSpec, agentProblems: readonly string[]): string {
  const where = `${spec.user}@${spec.address}:${spec.port}${spec.jump ? ` (through ${jumpNames(spec.jump).join(', ')})` : ''}`
  if (error.code === 'ECONNREFUSED') return `connection refused by ${where}: is sshd running there?`
  if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH') return `no route to ${where}`
  if (error.level === 'client-timeout' || /Timed out/i.test(error.message)) return `no SSH answer from ${where} in time`
  if (error.level === 'client-authentication') {
    const keys = spec.identityFiles.length > 0 ? spec.identityFiles.join(', ') : 'the agent'
    return `authentication failed for ${where} with ${keys}${agentProblems.map((p) => `; ${p}`).join('')}`
  }
  return `cannot connect to ${where}: ${error.message}`
}

// A hop's identity for sharing: who it logs in as, where, and through which hops in turn.
function hopKey(spec: ConnectSpec): string {
  const here = `${spec.user}@${spec.address}:${spec.port}`
  return spec.jump ? `${hopKey(spec.jump)} ${here}` : here
}

// The jump hosts, farthest first.
function jumpNames(spec: ConnectSpec): string[] {
  return spec.jump ? [...jumpNames(spec.jump), spec.name] : [spec.name]
}
