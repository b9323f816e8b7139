// fleet's version is package.json's, read at run time: the one number npm publishes is the one
// `fleet --version` prints, from a checkout (src/) or an install (dist/src/) alike.
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export function fleetVersion(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'fleet' && pkg.version) return pkg.version
    }
    if (path.dirname(dir) === dir) return 'unknown'
  }
}
