// Runs fleet's CLI in-process with captured output, exactly as the bin does.
import { main } from '../../src/cli/main.ts'

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export async function fleet(args: readonly string[], env: NodeJS.ProcessEnv = { CI: 'true' }): Promise<CliResult> {
  const out: string[] = []
  const err: string[] = []
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false, env })
  return { code, stdout: out.join('\n'), stderr: err.join('\n') }
}
