// Bad input is reported to people, not as a stack trace: what was wrong, where, what to do.
export class InputError extends Error {
  constructor(
    message: string,
    readonly where?: string,
  ) {
    super(message)
    this.name = 'InputError'
  }

  override toString(): string {
    return this.where ? `${this.where}: ${this.message}` : this.message
  }
}

export class InputErrors extends Error {
  constructor(readonly errors: readonly InputError[]) {
    super(errors.map(String).join('\n'))
    this.name = 'InputErrors'
  }
}
