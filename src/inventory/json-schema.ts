// The inventory's JSON Schema, generated from the zod schema fleet validates with, for editors
// (yaml-language-server and the like): `fleet schema > fleet.schema.json`.
import { z } from 'zod'
import { inventorySchema } from './schema.ts'

export function inventoryJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(inventorySchema, { target: 'draft-2020-12' }) as Record<string, unknown>
}
