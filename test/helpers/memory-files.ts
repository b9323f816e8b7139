// ssh_config files held in memory, so that resolution tests never read the machine's own files.
import type { ConfigFiles } from '../../src/ssh/ssh-config.ts'

export function memoryFiles(tree: Record<string, string>): ConfigFiles {
  return {
    read: (file) => tree[file],
    list: (dir) =>
      Object.keys(tree)
        .filter((f) => f.startsWith(`${dir}/`) && !f.slice(dir.length + 1).includes('/'))
        .map((f) => f.slice(dir.length + 1)),
  }
}
