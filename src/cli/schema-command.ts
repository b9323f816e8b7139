// fleet schema: the inventory's JSON Schema on stdout, for an editor to complete keys and flag
// errors as the user types.
import { inventoryJsonSchema } from '../inventory/json-schema.ts'
import { EXIT } from './exit-codes.ts'
import type { Io } from './output.ts'

export function schemaCommand(io: Io): number {
  io.out(JSON.stringify(inventoryJsonSchema(), null, 2))
  return EXIT.ok
}
