// The operator's side of ssh_config resolution: the files on disk, home, user, host name and
// environment. Kept apart so that resolution itself stays a function of what is passed in.
import { readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'
import type { LocalEnvironment } from './connect-spec.ts'
import type { ConfigFiles } from './ssh-config.ts'

export const diskFiles: ConfigFiles = {
  read(file) {
    try {
      return readFileSync(file, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EISDIR') return { directory: true }
      // Missing or unreadable: ssh skips it too.
      return undefined
    }
  },
  list(dir) {
    try {
      return readdirSync(dir)
    } catch {
      return []
    }
  },
}

// Every host reads the same few files: each is read once per run.
function cached(files: ConfigFiles): ConfigFiles {
  const texts = new Map<string, ReturnType<ConfigFiles['read']>>()
  return {
    read(file) {
      if (!texts.has(file)) texts.set(file, files.read(file))
      return texts.get(file)
    },
    list: (dir) => files.list(dir),
  }
}

export function localEnvironment(): LocalEnvironment {
  const user = os.userInfo()
  return {
    files: cached(diskFiles),
    systemConfig: '/etc/ssh/ssh_config',
    home: os.homedir(),
    localUser: user.username,
    localHost: os.hostname(),
    uid: user.uid,
    env: process.env,
  }
}
