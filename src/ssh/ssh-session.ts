// One host's session over a node-ssh connection: a script on stdin to `sh -s` as root, its output
// byte for byte. node-ssh's execCommand is guarded where it falls short for fleet:
//   - it decodes and trims output (decoding per chunk, so a UTF-8 character cut between two
//     chunks is mangled): fleet keeps the raw chunks itself, iptables-save arrives byte-exact;
//   - it has no timeout: the remote `timeout` ends a hung command even if fleet dies, and a local
//     timer covers a connection that stops answering;
//   - a channel that drops (connection lost, command killed) resolves as success with code null:
//     here that is a failure, never an empty result.
import { HostError, type RemoteResult, type Session } from '../remote/transport.ts'
import type { ConnectSpec } from './connect-spec.ts'
import type { Link } from './link.ts'
import { remoteCommand, scriptInput, VALIDATE_COMMAND, type SudoMode, type SudoPassword } from './sudo.ts'

// The local timer's margin over the remote `timeout`: the remote side should always win.
const LOCAL_MARGIN_SEC = 2
const VALIDATE_TIMEOUT_SEC = 15

interface Exited {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export class SshSession implements Session {
  private readonly mode: SudoMode

  constructor(
    private readonly link: Link,
    private readonly spec: ConnectSpec,
    private readonly defaultTimeoutSec: number,
    private readonly sudo: SudoPassword | undefined,
    // Jump connections made for this session alone (fresh sessions), closed with it.
    private readonly ownJumps: readonly Link[] = [],
  ) {
    this.mode = spec.user === 'root' ? 'root' : sudo ? 'password' : 'nopasswd'
  }

  async run(script: string, { timeoutSec = this.defaultTimeoutSec } = {}): Promise<RemoteResult> {
    if (this.mode === 'password') {
      const password = `${this.sudo!.secret}\n`
      await this.sudo!.ensure(this.spec.name, this.spec.user, async () => (await this.exec(VALIDATE_COMMAND, password, VALIDATE_TIMEOUT_SEC)).code === 0)
    }
    const result = await this.exec(remoteCommand(this.mode, timeoutSec), scriptInput(this.mode, this.sudo?.secret, script), timeoutSec)
    if (this.mode === 'nopasswd' && /sudo: (a password is required|a terminal is required)/.test(result.stderr)) {
      throw new HostError(`user ${this.spec.user} needs a sudo password: give it with -K (--ask-sudo-pass) or --sudo-pass-file, or allow NOPASSWD`)
    }
    if (result.code === 124) throw new HostError(`the remote command timed out after ${timeoutSec}s`)
    return result
  }

  close(): void {
    this.link.end()
    for (const jump of this.ownJumps) jump.end()
  }

  private async exec(command: string, stdin: string, timeoutSec: number): Promise<Exited> {
    if (this.link.lost) throw new HostError(this.link.lost)
    const out: Buffer[] = []
    const err: Buffer[] = []
    let channel: { close(): unknown } | undefined
    let timer: NodeJS.Timeout | undefined
    const exec = this.link.ssh.execCommand(command, {
      stdin,
      noTrim: true,
      onChannel: (c) => {
        channel = c
        // A channel is a stream: an 'error' without a listener would crash the run.
        c.on('error', () => {})
      },
      onStdout: (chunk) => out.push(chunk),
      onStderr: (chunk) => err.push(chunk),
    })
    const waitSec = timeoutSec + LOCAL_MARGIN_SEC
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HostError(`no answer within ${waitSec}s`)), waitSec * 1000)
    })
    const lost = this.link.closed.then(() => Promise.reject(new HostError(this.link.lost ?? 'connection lost')))
    try {
      const failed = (e: Error) => Promise.reject(new HostError(this.link.lost ?? `cannot run a command: ${e.message}`))
      const result = await Promise.race([exec.catch(failed), timedOut, lost])
      if (result.code === null) {
        const why = result.signal ? `the remote command was killed (${result.signal})` : (this.link.lost ?? 'the channel was dropped')
        throw new HostError(`${why} before the command finished`)
      }
      return { code: result.code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }
    } catch (error) {
      channel?.close()
      throw error
    } finally {
      clearTimeout(timer)
      exec.catch(() => {})
      lost.catch(() => {})
    }
  }
}
