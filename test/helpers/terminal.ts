// A real terminal for interactive tests: tmux runs the command in a pseudo-terminal, send-keys
// types, capture-pane reads the screen.
import { execFileSync, spawnSync } from 'node:child_process'

export class Terminal {
  private constructor(private readonly session: string) {}

  // `command` runs through sh; its exit status is printed as EXIT=<n> when it ends.
  static start(command: string, env: Record<string, string> = {}): Terminal {
    const session = `fleet-test-${process.pid}-${Date.now()}`
    const exports = Object.entries(env).map(([k, v]) => `export ${k}='${v}';`).join(' ')
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '50', `unset CI; ${exports} ${command}; echo EXIT=$?; sleep 600`])
    return new Terminal(session)
  }

  // What is on the screen; `all`: with everything scrolled off it too.
  screen(all = false): string {
    return spawnSync('tmux', ['capture-pane', '-p', ...(all ? ['-S', '-'] : []), '-t', this.session], { encoding: 'utf8' }).stdout
  }

  // The screen with everything that scrolled off it.
  history(): string {
    return spawnSync('tmux', ['capture-pane', '-p', '-S', '-', '-t', this.session], { encoding: 'utf8' }).stdout
  }

  async waitFor(text: string | RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const screen = this.screen()
      if (typeof text === 'string' ? screen.includes(text) : text.test(screen)) return screen
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${text} on the screen:\n${screen}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  send(...keys: string[]): void {
    execFileSync('tmux', ['send-keys', '-t', this.session, ...keys])
  }

  close(): void {
    spawnSync('tmux', ['kill-session', '-t', this.session])
  }
}
