// Tests that run fleet as a separate process (as an operator would) use bin/fleet.js, which runs
// the compiled dist/: compile it from the current source once, before any test.
import { execFileSync } from 'node:child_process'
import path from 'node:path'

export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: path.resolve(import.meta.dirname, '../..'), stdio: 'inherit' })
}
