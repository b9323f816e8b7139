// Remote scripts print their results as marked sections, so one round trip can return several
// facts: "@@fleet <nonce> <name>" starts a section, "@@fleet-status <nonce> <name> <code>" records
// an exit status.
//
// What a section prints is the host's text, and a rule comment can hold any line,
// "@@fleet-status live 0" included. So the markers carry a nonce fleet draws afresh for each
// script, and only markers with it count: text already on the host cannot know it.
import { randomBytes } from 'node:crypto'

export interface Marks {
  readonly nonce: string
}

export function newMarks(): Marks {
  return { nonce: randomBytes(12).toString('hex') }
}

export interface Sections {
  readonly text: ReadonlyMap<string, string>
  readonly status: ReadonlyMap<string, number>
}

// The line that starts section `name` (a section that ends with the script needs no status).
export function sectionStart(marks: Marks, name: string): string {
  return `echo '@@fleet ${marks.nonce} ${name}'`
}

export function section(marks: Marks, name: string, command: string): string {
  return `${sectionStart(marks, name)}\n${command}\necho "@@fleet-status ${marks.nonce} ${name} $?"`
}

export function parseSections(stdout: string, marks: Marks): Sections {
  const text = new Map<string, string[]>()
  const status = new Map<string, number>()
  const startMark = `@@fleet ${marks.nonce} `
  const endMark = new RegExp(`^@@fleet-status ${marks.nonce} (\\S+) (\\d+)$`)
  let current: string[] | undefined
  for (const line of stdout.split('\n')) {
    const start = line.startsWith(startMark) && /^\S+$/.test(line.slice(startMark.length)) ? line.slice(startMark.length) : undefined
    const end = endMark.exec(line)
    if (start !== undefined) {
      current = []
      text.set(start, current)
    } else if (end) {
      status.set(end[1]!, Number(end[2]))
      current = undefined
    } else if (current) {
      current.push(line)
    }
  }
  return {
    text: new Map([...text].map(([k, v]) => [k, v.join('\n')])),
    status,
  }
}
