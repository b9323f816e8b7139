// SSH with ssh2: host keys checked against known_hosts, keys from files or the agent, internal
// servers reached through a jump host whose one connection is shared by the hosts behind it.
// Every failure becomes a HostError for that host; nothing here may crash the process.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import ssh2, { type Client, type ConnectConfig } from 'ssh2'
import { HostError, type RemoteResult, type Session } from '../remote/transport.ts'
import { quote } from '../shell/quote.ts'
import type { ConnectSpec } from './connect-spec.ts'
import { knownHostsName, parseKnownHosts, preferredHostKeyAlgorithms, verifyHostKey, type KnownHostEntry } from './known-hosts.ts'

// ssh2 is CommonJS; its named exports are only reachable through the default export under ESM.
const { Client: SshClient, utils } = ssh2

export interface SshOptions {
  // StrictHostKeyChecking=accept-new: record unknown keys; changed keys are refused regardless.
  readonly acceptNewHostKeys: boolean
  readonly connectTimeoutMs: number
  readonly commandTimeoutSec: number
}

export const DEFAULT_SSH_OPTIONS: SshOptions = { acceptNewHostKeys: false, connectTimeoutMs: 15_000, commandTimeoutSec: 120 }

interface Opened {
  readonly client: Client
  readonly closed: Promise<void>
}

export class SshTransport {
  // One shared connection per jump host; fresh connections (for confirmation) bypass it.
  private readonly jumps = new Map<string, Promise<Opened>>()
  private readonly clients = new Set<Client>()
  // Read once per run: every host shares the known_hosts file and, usually, the key.
  private readonly knownHosts = new Map<string, KnownHostEntry[]>()
  private readonly keys = new Map<string, Buffer | null>()

  constructor(private readonly options: SshOptions = DEFAULT_SSH_OPTIONS) {}

  // `fresh`: a new TCP connection (and a new jump connection), never a channel of an existing one;
  // what confirmation needs to prove that the new ruleset still admits the operator.
  async open(spec: ConnectSpec, { fresh = false, connectTimeoutMs = this.options.connectTimeoutMs } = {}): Promise<Session> {
    let sock: NodeJS.ReadableStream | undefined
    let ownJump: Opened | undefined
    if (spec.jump) {
      const jump = fresh ? (ownJump = await this.connect(spec.jump, connectTimeoutMs)) : await this.sharedJump(spec.jump)
      sock = await this.forward(jump, spec)
    }
    try {
      const { client } = await this.connect(spec, connectTimeoutMs, sock)
      return new SshSession(client, spec, this.options.commandTimeoutSec, ownJump?.client)
    } catch (error) {
      ownJump?.client.end()
      throw error
    }
  }

  closeAll(): void {
    for (const client of this.clients) client.end()
    this.jumps.clear()
  }

  private sharedJump(spec: ConnectSpec): Promise<Opened> {
    let jump = this.jumps.get(spec.name)
    if (!jump) {
      jump = this.connect(spec, this.options.connectTimeoutMs)
      // A failed or dropped jump connection must not be reused by the hosts that come later.
      jump.then((j) => j.closed.then(() => this.jumps.delete(spec.name))).catch(() => this.jumps.delete(spec.name))
      this.jumps.set(spec.name, jump)
    }
    return jump
  }

  private forward(jump: Opened, spec: ConnectSpec): Promise<NodeJS.ReadableStream> {
    return new Promise((resolve, reject) => {
      jump.client.forwardOut('127.0.0.1', 0, spec.address, spec.port, (error, stream) => {
        if (error) {
          reject(new HostError(`cannot reach ${spec.address}:${spec.port} through jump host ${spec.jump?.name}: ${error.message}`))
        } else {
          stream.on('error', () => {})
          resolve(stream)
        }
      })
    })
  }

  private connect(spec: ConnectSpec, timeoutMs: number, sock?: NodeJS.ReadableStream): Promise<Opened> {
    let hostKeyProblem: string | undefined
    const config = { ...this.connectConfig(spec, (problem) => (hostKeyProblem = problem), sock), readyTimeout: timeoutMs }
    const client = new SshClient()
    this.clients.add(client)
    return new Promise((resolve, reject) => {
      let ready = false
      const closed = new Promise<void>((done) => client.on('close', () => (this.clients.delete(client), done())))
      // ssh2 emits 'error' for resets and timeouts at any time, also after 'ready'; an error
      // without a listener would crash the whole run, so there is always one.
      client.on('error', (error) => {
        if (!ready) reject(new HostError(hostKeyProblem ?? describeConnectError(error, spec)))
      })
      client.on('ready', () => {
        ready = true
        resolve({ client, closed })
      })
      try {
        client.connect(config)
      } catch (error) {
        reject(new HostError(`${(error as Error).message}`))
      }
    })
  }

  private connectConfig(spec: ConnectSpec, onHostKeyProblem: (problem: string) => void, sock?: NodeJS.ReadableStream): ConnectConfig {
    const entries = this.knownHostsOf(spec.knownHostsFile)
    const name = knownHostsName(spec.address, spec.port)
    const algorithms = preferredHostKeyAlgorithms(entries, name)
    return {
      host: spec.address,
      port: spec.port,
      username: spec.user,
      ...(sock && { sock: sock as never }),
      keepaliveInterval: 5_000,
      keepaliveCountMax: 3,
      ...(algorithms && { algorithms: { serverHostKey: algorithms as never } }),
      authHandler: this.authMethods(spec) as never,
      hostVerifier: (key: Buffer) => {
        const parsed = utils.parseKey(key)
        if (parsed instanceof Error) return onHostKeyProblem(`unreadable host key: ${parsed.message}`), false
        const keyType = parsed.type
        const keyBase64 = key.toString('base64')
        const verdict = verifyHostKey(entries, name, keyType, keyBase64)
        switch (verdict.kind) {
          case 'match':
            return true
          case 'revoked':
            onHostKeyProblem(`host key of ${spec.name} (${name}) is marked @revoked in ${spec.knownHostsFile}; refusing to connect`)
            return false
          case 'changed':
            onHostKeyProblem(
              `HOST KEY CHANGED for ${spec.name} (${name}): the ${keyType} key it presents does not match ${spec.knownHostsFile}. ` +
                `Someone may be intercepting the connection, or the host was reinstalled. Check the new key, then remove the old entry ` +
                `(ssh-keygen -R ${quote(name)} -f ${quote(spec.knownHostsFile)}).`,
            )
            return false
          case 'unknown':
            if (this.options.acceptNewHostKeys) {
              mkdirSync(path.dirname(spec.knownHostsFile), { recursive: true })
              appendFileSync(spec.knownHostsFile, `${name} ${keyType} ${keyBase64}\n`)
              entries.push({ hosts: name, keyType, key: keyBase64 })
              return true
            }
            onHostKeyProblem(
              `unknown host key for ${spec.name} (${name}): it is not in ${spec.knownHostsFile}. ` +
                `Verify it and add it (ssh-keyscan), or run with --accept-new-host-keys.`,
            )
            return false
        }
      },
    }
  }

  private knownHostsOf(file: string): KnownHostEntry[] {
    let entries = this.knownHosts.get(file)
    if (!entries) {
      entries = parseKnownHosts(existsSync(file) ? readFileSync(file, 'utf8') : '')
      this.knownHosts.set(file, entries)
    }
    return entries
  }

  private authMethods(spec: ConnectSpec): object[] {
    const methods: object[] = []
    for (const file of spec.identityFiles) {
      if (!this.keys.has(file)) this.keys.set(file, existsSync(file) ? readFileSync(file) : null)
      const key = this.keys.get(file)
      if (key) methods.push({ type: 'publickey', username: spec.user, key })
    }
    if (process.env.SSH_AUTH_SOCK) methods.push({ type: 'agent', username: spec.user, agent: process.env.SSH_AUTH_SOCK })
    if (methods.length === 0) {
      throw new HostError(`no SSH key: none of ${spec.identityFiles.join(', ') || 'the default key files'} exists and SSH_AUTH_SOCK is not set`)
    }
    return methods
  }
}

function describeConnectError(error: Error & { code?: string; level?: string }, spec: ConnectSpec): string {
  const where = `${spec.user}@${spec.address}:${spec.port}${spec.jump ? ` (through ${spec.jump.name})` : ''}`
  if (error.code === 'ECONNREFUSED') return `connection refused by ${where}: is sshd running there?`
  if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH') return `no route to ${where}`
  if (error.level === 'client-timeout' || /Timed out/i.test(error.message)) return `no SSH answer from ${where} in time`
  if (error.level === 'client-authentication') {
    const keys = spec.identityFiles.length > 0 ? spec.identityFiles.join(', ') : 'the agent'
    return `authentication failed for ${where} with ${keys}`
  }
  return `cannot connect to ${where}: ${error.message}`
}

class SshSession implements Session {
  constructor(
    private readonly client: Client,
    private readonly spec: ConnectSpec,
    private readonly defaultTimeoutSec: number,
    // A jump connection made for this session alone (fresh sessions), closed with it.
    private readonly ownJump?: Client,
  ) {}

  run(script: string, { timeoutSec = this.defaultTimeoutSec } = {}): Promise<RemoteResult> {
    // The remote `timeout` ends a hung command even if this process dies; the local timer covers
    // a connection that stops answering.
    const shell = `timeout ${timeoutSec} sh -s`
    const command = this.spec.user === 'root' ? shell : `sudo -n ${shell}`
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new HostError(`no answer within ${timeoutSec + 2}s`)), (timeoutSec + 2) * 1000)
      const onClose = () => {
        clearTimeout(timer)
        reject(new HostError(`connection lost`))
      }
      this.client.once('close', onClose)
      this.client.exec(command, (error, stream) => {
        if (error) {
          clearTimeout(timer)
          this.client.off('close', onClose)
          return reject(new HostError(`cannot run a command: ${error.message}`))
        }
        const out: Buffer[] = []
        const err: Buffer[] = []
        stream.on('data', (d: Buffer) => out.push(d))
        stream.stderr.on('data', (d: Buffer) => err.push(d))
        stream.on('error', () => {})
        stream.on('close', (code: number | null) => {
          clearTimeout(timer)
          this.client.off('close', onClose)
          const stderr = Buffer.concat(err).toString()
          if (/sudo: (a password is required|a terminal is required)/.test(stderr)) {
            return reject(new HostError(`user ${this.spec.user} needs passwordless sudo (NOPASSWD) to change the firewall`))
          }
          if (code === 124) return reject(new HostError(`the remote command timed out after ${timeoutSec}s`))
          resolve({ code, stdout: Buffer.concat(out).toString(), stderr })
        })
        stream.end(script)
      })
    })
  }

  close(): void {
    this.client.end()
    this.ownJump?.end()
  }
}
