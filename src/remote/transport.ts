// The narrow interface between fleet's logic and a host: run a script, get its output.
// SSH implements it for real runs; tests and dry runs never need a fake one because the
// dry run stops before execution (it prints the scripts instead).

export interface RemoteResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface Session {
  // Runs `script` with POSIX sh as root on the host (through sudo -n for other users).
  run(script: string, options?: { readonly timeoutSec?: number }): Promise<RemoteResult>
  close(): void
}

export class HostError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'HostError'
  }
}
