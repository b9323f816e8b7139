import { randomBytes } from 'node:crypto'

// Sortable by time and unique across concurrent runs: 20261126T013000Z-9f3a.
export function newChangeId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return `${stamp}-${randomBytes(2).toString('hex')}`
}
