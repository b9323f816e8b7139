// One SSH connection made with node-ssh, and what fleet must know about it at any time: whether it
// is gone, and why. node-ssh removes its own 'error' listener once connected, and an 'error'
// without a listener (a reset, a keepalive timeout) would crash the whole run: the listener here
// is attached the moment the ssh2 client exists and stays for the connection's life.
//
// A connection is gone at its first 'end' or 'close'. Behind a jump host it runs over a channel
// the jump host forwards: when the host at the far end goes away (its sshd killed, the host
// rebooted), the jump host only sends EOF on that channel and keeps it half open while fleet has
// nothing to write, so ssh2 reports 'end' and never 'close'; every command running over it would
// otherwise wait for its timeout.
import type { Client } from 'ssh2'
import type { NodeSSH } from 'node-ssh'

export class Link {
  private why: string | undefined
  private gone = false
  // Resolves when the connection has ended or closed, for whatever reason.
  readonly closed: Promise<void>

  constructor(
    readonly ssh: NodeSSH,
    client: Client,
  ) {
    client.on('error', (error) => {
      this.why ??= error.message
    })
    this.closed = new Promise((done) => {
      const over = () => {
        if (this.gone) return
        this.gone = true
        done()
      }
      client.once('close', over)
      client.once('end', () => {
        this.why ??= 'ended by the other side'
        over()
        // Closes the half-open channel (or socket) under it too.
        client.end()
      })
    })
  }

  // null while the connection is up; otherwise what to tell the operator.
  get lost(): string | null {
    return this.gone ? `connection lost${this.why ? ` (${this.why})` : ''}` : null
  }

  end(): void {
    this.ssh.dispose()
  }
}
