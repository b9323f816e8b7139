// ssh_config files held in memory, so that resolution tests never read the machine's own files.
// A path that holds other paths is a directory.
import type { ConfigFiles } from '../../src/ssh/ssh-config.ts'

export function memoryFiles(tree: Record<string, string>): ConfigFiles {
  const isDirectory = (path: string) => Object.keys(tree).some((f) => f.startsWith(`${path}/`))
  return {
    read: (file) => tree[file] ?? (isDirectory(file) ? { directory: true } : undefined),
    list: (dir) =>
      [...new Set(Object.keys(tree).filter((f) => f.startsWith(`${dir}/`)).map((f) => f.slice(dir.length + 1).split('/')[0]!))],
  }
}
