// Variants of the shipped router role for the lab's router01, written into a test's roles folder.
import { ROOT } from './lab.ts'

// The router plus a host setting whose role says how to check and make it, but not how to undo it.
export const ROUTER_MARTIANS = `import router from '${ROOT}/roles/router.ts'
export default {
  description: 'the router, logging martians',
  tasks: (ctx) => [...router.tasks(ctx), ctx.task('log martians', async ($) => {
    await ctx.ensure({ check: $\`sysctl -n net.ipv4.conf.all.log_martians\`, want: '1', run: $\`sysctl -q -w net.ipv4.conf.all.log_martians=1\`, undo: 'keep' })
  })],
}\n`
