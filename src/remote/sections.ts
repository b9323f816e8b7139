// Remote scripts print their results as marked sections, so one round trip can return several
// facts: "@@fleet <name>" starts a section, "@@fleet-status <name> <code>" records an exit status.

export interface Sections {
  readonly text: ReadonlyMap<string, string>
  readonly status: ReadonlyMap<string, number>
}

export function section(name: string, command: string): string {
  return `echo '@@fleet ${name}'\n${command}\necho "@@fleet-status ${name} $?"`
}

export function parseSections(stdout: string): Sections {
  const text = new Map<string, string[]>()
  const status = new Map<string, number>()
  let current: string[] | undefined
  for (const line of stdout.split('\n')) {
    const start = /^@@fleet (\S+)$/.exec(line)
    const end = /^@@fleet-status (\S+) (\d+)$/.exec(line)
    if (start) {
      current = []
      text.set(start[1]!, current)
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
