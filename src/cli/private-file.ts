// A file that holds a secret (the sudo password), checked before it is read as ssh checks a private
// key: a file that others may read or write, or that is not the user's own, may have been read or
// replaced by someone else, so it is refused with what to run.
import { readFileSync, statSync } from 'node:fs'
import os from 'node:os'
import { InputError } from '../inventory/errors.ts'

interface Owner {
  readonly uid: number
  readonly name: string
}

// What is wrong with a file of this mode and owner for `me`; undefined: it is private.
export function privateFileProblem(file: string, stats: { readonly mode: number; readonly uid: number }, me: Owner, nameOf: (uid: number) => string | undefined): string | undefined {
  if (stats.uid !== me.uid) {
    const name = nameOf(stats.uid)
    return `the file belongs to uid ${stats.uid}${name !== undefined ? ` (${name})` : ''}, not to you (${me.name}); a password file must be yours, as ssh requires of private keys: chown ${me.name} ${file}`
  }
  // ssh's rule for private keys: no permission bit for group or others.
  if ((stats.mode & 0o077) !== 0) {
    const mode = (stats.mode & 0o777).toString(8).padStart(4, '0')
    return `the file is open to others (mode ${mode}); a password file must be private, as ssh requires of private keys: chmod 600 ${file}`
  }
  return undefined
}

// The user name of a uid, from /etc/passwd; undefined when it is not there.
function userName(uid: number): string | undefined {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(uid))
    return line?.split(':')[0]
  } catch {
    return undefined
  }
}

// The file's text, once it is known to be private. `option` names it in errors.
export function readPrivateFile(file: string, option: string): string {
  let stats
  try {
    stats = statSync(file)
  } catch {
    throw new InputError(`${option} ${file}: no such file`)
  }
  const user = os.userInfo()
  // Where there are no uids (Windows), there is nothing to compare.
  const problem = user.uid >= 0 ? privateFileProblem(file, stats, { uid: user.uid, name: user.username }, userName) : undefined
  if (problem !== undefined) throw new InputError(`${option} ${file}: ${problem}`)
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new InputError(`${option} ${file}: cannot read it (${code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message})`)
  }
}
