// A role of the user's own, as it sits next to their inventory: it imports fleet by name at run
// time (defineRole, the shared INPUT rules) and uses the types, as the README shows.
export const USER_ROLE_TS = `import { defineRole, inputAllow, type RoleContext } from 'fleet/role'

const port: number = 8080
export default defineRole({
  description: 'an internal web server that also answers tcp 8080 from the LAN',
  tasks(ctx: RoleContext) {
    const { task, need } = ctx
    return [
      task('serve 8080', async ($) => {
        await $\`iptables -A INPUT -s \${need('internal')} -p tcp --dport \${port} -j ACCEPT\`
      }),
      inputAllow(ctx, 'eth0'),
    ]
  },
})
`

// The same role as plain JavaScript (.mjs).
export const USER_ROLE_MJS = USER_ROLE_TS.replace(', type RoleContext', '').replace(': RoleContext', '').replace(': number', '')
