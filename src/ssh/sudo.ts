// How a script reaches root on a host: directly as root, through `sudo -n` (passwordless sudo), or
// through `sudo -S` with the operator's sudo password.
//
// With a password the script and the password travel on the same channel (the script goes to
// `sh -s` on stdin), so they are kept apart:
//   - the password is first checked alone, on a channel of its own (`sudo -k -v -S`, nothing else
//     on its stdin): a wrong password fails there, once, and is never tried on another host;
//   - afterwards each script's stdin is the password line, a marker line, then the script. The
//     user's shell reads the password into a variable (never an argument: `ps` shows only the
//     command line below) and hands sudo the password line; whatever sudo does not read (it asks
//     nothing when its credentials are cached) is skipped up to the marker by the root shell, so
//     the password never reaches `sh -s` as a command.
import { HostError } from '../remote/transport.ts'
import { quote } from '../shell/quote.ts'

const MARKER = '@@fleet-script'

export type SudoMode = 'root' | 'nopasswd' | 'password'

export function remoteCommand(mode: SudoMode, timeoutSec: number): string {
  const shell = `timeout ${timeoutSec} sh -s`
  if (mode === 'root') return shell
  if (mode === 'nopasswd') return `sudo -n ${shell}`
  const skipToScript = `while IFS= read -r line; do [ "$line" = ${MARKER} ] && exec sh -s; done; exit 125`
  const userSide = `IFS= read -r p; { printf '%s\\n' "$p" ${MARKER}; unset p; cat; } | sudo -S -p '' timeout ${timeoutSec} sh -c ${quote(skipToScript)}`
  return `sh -c ${quote(userSide)}`
}

// What the remote command above expects on stdin before the script.
export function scriptInput(mode: SudoMode, password: string | undefined, script: string): string {
  return mode === 'password' ? `${password}\n${script}` : script
}

// The check of the password alone: its command, and what to send it.
export const VALIDATE_COMMAND = `sudo -k -v -S -p ''`

// The operator's sudo password for one run: checked once per host before its first use, one host
// at a time until it has worked once; after a rejection it is sent nowhere else.
export class SudoPassword {
  private readonly verified = new Set<string>()
  private rejectedOn: string | undefined
  private worked = false
  private queue: Promise<void> = Promise.resolve()

  constructor(readonly secret: string) {
    if (/[\n\r\0]/.test(secret)) throw new Error('a sudo password cannot contain a line break or NUL')
  }

  // `check` runs the validation on `host` and says whether sudo accepted the password.
  async ensure(host: string, user: string, check: () => Promise<boolean>): Promise<void> {
    if (this.verified.has(host)) return
    if (this.worked) return this.verify(host, user, check)
    const previous = this.queue
    let release = () => {}
    this.queue = new Promise((r) => (release = r))
    await previous
    try {
      await this.verify(host, user, check)
    } finally {
      release()
    }
  }

  private async verify(host: string, user: string, check: () => Promise<boolean>): Promise<void> {
    if (this.rejectedOn !== undefined) {
      throw new HostError(`not sent: the sudo password was rejected on ${this.rejectedOn}, fleet does not try it again`)
    }
    if (this.verified.has(host)) return
    if (!(await check())) {
      this.rejectedOn ??= host
      throw new HostError(`sudo rejected the password for ${user}; fleet does not send it to any other host`)
    }
    this.verified.add(host)
    this.worked = true
  }
}
