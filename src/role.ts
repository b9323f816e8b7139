// `fleet/role`: what a role file imports from fleet by name. The types let a user who adds fleet
// as a dev dependency type-check roles with tsc; at run time the name is mapped to the running
// fleet (src/roles/fleet-imports.ts), so a role next to an inventory works with a global install.
import type { Role } from './roles/types.ts'

export type {
  CommandTask,
  CommonTasks,
  Family,
  NetworkKey,
  NetworkKeys,
  Role,
  RoleCommand,
  RoleContext,
  RoleShell,
  RoleTask,
  RulesetLine,
  Setting,
  Table,
  TaskBody,
} from './roles/types.ts'
export type { PortSet } from './inventory/types.ts'
// The INPUT rules every host carries (the seed's shared allow list), for a role of your own to
// include before its final DROP as the shipped roles do: `inputAllow(ctx, 'eth0')`, the same as
// `ctx.common.inputAllow('eth0')`.
export { inputAllow, inputAllow6 } from '../roles/common/input-allow.ts'

// Checks a role's shape where it is written (also in a .js role, through the editor).
export function defineRole<R extends Role>(role: R): R {
  return role
}
