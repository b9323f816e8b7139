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
    if (this.options.askSudoPass && this.options.sudoPassFile !== undefined) {
      throw new InputError('-K (--ask-sudo-pass) and --sudo-pass-file: give one of them')
    }
    if (this.options.askSudoPass && !ask) {
      throw new InputError('-K (--ask-sudo-pass) needs a terminal to ask on; without one, give --sudo-pass-file FILE')
    }
    await this.identities.load(specs, ask)
    if (!this.sudoRead && specs.some((s) => s.user !== 'root')) {
      this.sudo = await this.readSudoPassword(ask, [...new Set(specs.filter((s) => s.user !== 'root').map((s) => s.user))])
      this.sudoRead = true
    }
  }

  private async readSudoPassword(ask: AskSecret | undefined, users: readonly string[]): Promise<SudoPassword | undefined> {
    const file = this.options.sudoPassFile
    let secret: string
    if (file !== undefined) {
      secret = readPrivateFile(file, '--sudo-pass-file').split(/\r?\n/)[0]!
      if (secret === '') throw new InputError(`--sudo-pass-file ${file}: its first line (the password) is empty`)
    } else if (this.options.askSudoPass && ask) {
      secret = await ask(`sudo password (for ${users.join(', ')}):`)
    } else {
      return undefined
    }
    try {
      return new SudoPassword(secret)
    } catch (error) {
      throw new InputError(`${file !== undefined ? `--sudo-pass-file ${file}` : 'the sudo password'}: ${(error as Error).message}`)
    }
  }
}

// A terminal to type on. The prompt goes to stderr, so `--json | jq` on a terminal still asks.
function canAskSecrets(io: Io): boolean {
  return interactive(io) || (!io.env.CI && Boolean(process.stdin.isTTY && process.stderr.isTTY))
}
