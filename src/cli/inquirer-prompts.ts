// The real prompts: @inquirer/prompts, with Esc as well as Ctrl-C ending the run.
import { emitKeypressEvents } from 'node:readline'
import { Cancelled, type Prompts } from './picker.ts'

function cancellable<T>(ask: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController()
  const onKey = (_: string, key?: { name?: string }) => key?.name === 'escape' && abort.abort()
  emitKeypressEvents(process.stdin)
  process.stdin.on('keypress', onKey)
  return ask(abort.signal)
    .catch((error: Error) => {
      if (error.name === 'ExitPromptError' || error.name === 'AbortPromptError') throw new Cancelled()
      throw error
    })
    .finally(() => process.stdin.off('keypress', onKey))
}

export async function inquirerPrompts(): Promise<Prompts> {
  const { checkbox, confirm, expand } = await import('@inquirer/prompts')
  return {
    checkbox: (config) => cancellable((signal) => checkbox({ ...config, choices: [...config.choices] }, { signal })),
    confirm: (config) => cancellable((signal) => confirm(config, { signal })),
    // inquirer types keys as single letters; ours are written in the code, never typed by a user.
    expand: <T>(config: { message: string; default: string; choices: readonly { key: string; name: string; value: T }[] }) =>
      cancellable((signal) => expand<T>(config as Parameters<typeof expand<T>>[0], { signal })),
  }
}

// A secret (key passphrase, sudo password): nothing is echoed, and the prompt goes to stderr so that
// stdout stays clean for --json.
export async function askSecret(message: string): Promise<string> {
  const { password } = await import('@inquirer/prompts')
  return cancellable((signal) => password({ message }, { signal, output: process.stderr }))
}
