// What authenticates a run (key passphrases, the sudo password), asked for or read once per
// command before any host is contacted: the preview and the run share it, every host uses it.
// Secrets live in this process's memory only; nothing here prints or records them.
import { InputError } from '../inventory/errors.ts'
import type { ConnectSpec } from '../ssh/connect-spec.ts'
import { Identities, type AskSecret } from '../ssh/identities.ts'
import type { Credentials } from '../ssh/ssh-transport.ts'
import { SudoPassword } from '../ssh/sudo.ts'
import { askSecret } from './inquirer-prompts.ts'
import { interactive, type Io } from './output.ts'
import { readPrivateFile } from './private-file.ts'

export interface SudoOptions {
  // -K, --ask-sudo-pass
  readonly askSudoPass?: boolean
  readonly sudoPassFile?: string
}

export class RunCredentials implements Credentials {
  readonly identities = new Identities()
  sudo: SudoPassword | undefined
  private sudoRead = false

  constructor(
    private readonly options: SudoOptions,
    private readonly io: Io,
  ) {}

  // Everything the hosts of `specs` (and their jump hosts) need that is not read yet.
  async prepare(specs: readonly ConnectSpec[]): Promise<void> {
    const ask = canAskSecrets(this.io) ? askSecret : undefined
    this.checkOptions(ask)
    await this.identities.load(specs, ask)
    const users = sudoUsers(specs)
    if (!this.sudoRead && users.length > 0) {
      this.sudo = await this.readSudoPassword(ask, users)
      this.sudoRead = true
    }
  }

  // A dry run connects nowhere, but an operator checks the command line with it: it refuses what
  // `prepare` would (the options, the password file), without asking for anything.
  checkOffline(specs: readonly ConnectSpec[]): void {
    this.checkOptions(canAskSecrets(this.io) ? askSecret : undefined)
    const file = this.options.sudoPassFile
    if (file !== undefined && sudoUsers(specs).length > 0) passwordIn(file)
  }

  private checkOptions(ask: AskSecret | undefined): void {
    if (this.options.askSudoPass && this.options.sudoPassFile !== undefined) {
      throw new InputError('-K (--ask-sudo-pass) and --sudo-pass-file: give one of them')
    }
    if (this.options.askSudoPass && !ask) {
      throw new InputError('-K (--ask-sudo-pass) needs a terminal to ask on; without one, give --sudo-pass-file FILE')
    }
  }

  private async readSudoPassword(ask: AskSecret | undefined, users: readonly string[]): Promise<SudoPassword | undefined> {
    if (this.options.sudoPassFile !== undefined) return passwordIn(this.options.sudoPassFile)
    if (!this.options.askSudoPass || !ask) return undefined
    return sudoPassword(await ask(`sudo password (for ${users.join(', ')}):`), 'the sudo password')
  }
}

// The users that run fleet's scripts through sudo (a password is only for them).
function sudoUsers(specs: readonly ConnectSpec[]): string[] {
  return [...new Set(specs.filter((s) => s.user !== 'root').map((s) => s.user))]
}

// --sudo-pass-file's first line, refused as bad input when the file is not private or not usable.
function passwordIn(file: string): SudoPassword {
  const secret = readPrivateFile(file, '--sudo-pass-file').split(/\r?\n/)[0]!
  if (secret === '') throw new InputError(`--sudo-pass-file ${file}: its first line (the password) is empty`)
  return sudoPassword(secret, `--sudo-pass-file ${file}`)
}

// `from` names where the password came from, in the refusal.
function sudoPassword(secret: string, from: string): SudoPassword {
  try {
    return new SudoPassword(secret)
  } catch (error) {
    throw new InputError(`${from}: ${(error as Error).message}`)
  }
}

// A terminal to type on. The prompt goes to stderr, so `--json | jq` on a terminal still asks.
function canAskSecrets(io: Io): boolean {
  return interactive(io) || (!io.env.CI && Boolean(process.stdin.isTTY && process.stderr.isTTY))
}
