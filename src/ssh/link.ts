// One SSH connection made with node-ssh, and what fleet must know about it at any time: whether it
// is gone, and why. node-ssh removes its own 'error' listener once connected, and an 'error'
// without a listener (a reset, a keepalive timeout) would crash the whole run: the listener here
// is attached the moment the ssh2 client exists and stays for the connection's life.
import type { Client } from 'ssh2'
import type { NodeSSH } from 'node-ssh'

export class Link {
  private why: string | undefined
  private gone = false
  // Resolves when the connection has closed, for whatever reason.
  readonly closed: Promise<void>

  constructor(
    readonly ssh: NodeSSH,
    client: Client,
  ) {
    client.on('error', (error) => {
      this.why ??= error.message
    })
    this.closed = new Promise((done) =>
      client.once('close', () => {
        this.gone = true
        done()
      }),
    )
  }

  // null while the connection is up; otherwise what to tell the operator.
  get lost(): string | null {
    return this.gone ? `connection lost${this.why ? ` (${this.why})` : ''}` : null
  }

  end(): void {
    this.ssh.dispose()
  }
}
