// The entry point's logic: parse arguments, run a command, map every outcome to an exit status.
// Bad input never shows a stack trace.
import { Command, CommanderError, Option } from 'commander'
import { InputError } from '../inventory/errors.ts'
import { applyCommand } from './apply-command.ts'
import { auditCommand } from './audit-command.ts'
import { historyCommand } from './history-command.ts'
import { initCommand } from './init-command.ts'
import { rollbackCommand } from './rollback-command.ts'
import { schemaCommand } from './schema-command.ts'
import { EXIT } from './exit-codes.ts'
import { reportFailure } from './failure.ts'
import { processIo, type Io } from './output.ts'
import { fleetVersion } from './version.ts'

// Decimal digits only, in a range a person would mean: Number() would take 1e21 (which overflows
// Node's timer and the host shell's arithmetic), 0x10 and 1.5.
function wholeNumber(option: string, min: number, max: number, unit = ''): (value: string) => number {
  return (value) => {
    const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN
    if (!(n >= min && n <= max)) throw new InputError(`${option} ${value}: expected a whole number${unit} from ${min} to ${max}`)
    return n
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value]

export function program(io: Io, run: (code: Promise<number>) => void): Command {
  const cli = new Command('fleet')
    .description('Bring the firewalls of a private network to a known baseline over SSH.')
    .version(fleetVersion())
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Exit status: 0 every host ok, 1 a host failed, 2 bad input (nothing changed), 3 drift found by audit
or changes pending (apply --check), 70 internal error (a bug in fleet), 130 interrupted. Without a terminal, or with CI set, output is one plain line per event.`,
    )

  // Option groups shared by the commands: which hosts, how to reach them, how to change them.
  const selection = (command: Command, prompts = true) => {
    command
      .addOption(new Option('-i, --inventory <file>', 'the inventory YAML file').makeOptionMandatory())
      .addOption(new Option('-l, --limit <names>', 'only these hosts or roles (comma-separated, * patterns; repeatable)').argParser(collect))
      .addOption(new Option('-r, --role <names>', 'only hosts with these roles (comma-separated; repeatable)').argParser(collect))
    return prompts ? command.option('-y, --yes', 'no prompts on a terminal: act on the selection, or on every host') : command
  }
  const connection = (command: Command) =>
    command
      .option('--json', 'print one JSON document with every host and its outcome')
      .addOption(
        new Option('-c, --concurrency <n>', 'hosts worked on at once (sshd drops unauthenticated connections beyond MaxStartups, 10 by default)')
          .argParser(wholeNumber('--concurrency', 1, 256))
          .default(8),
      )
      .option('--accept-new-host-keys', 'trust and record host keys not yet in known_hosts (changed keys are still refused)')
      .option('-K, --ask-sudo-pass', 'ask once for the sudo password of the hosts not reached as root (nothing is echoed)')
      .option('--sudo-pass-file <file>', 'read the sudo password from the first line of this file')
  const changing = (command: Command) =>
    command
      .option('--no-confirm', "do not confirm over a fresh connection: finish the change over the one that made it (the host's timer still undoes a change fleet does not finish)")
      .addOption(
        new Option('--confirm-timeout <seconds>', 'the host restores its previous ruleset unless fleet confirms over a fresh SSH connection (with --no-confirm: finishes the change) within this time')
          .argParser(wholeNumber('--confirm-timeout', 1, 3600, ' of seconds'))
          .default(30),
      )
      .addOption(new Option('--keep <n>', 'saved rulesets kept on each host (older ones are pruned)').argParser(wholeNumber('--keep', 1, 1000)).default(10))

  const apply = cli.command('apply').description("bring every selected host to its role's baseline (one atomic iptables-restore per host)")
  selection(apply)
    .option('-n, --dry-run', 'print, per host, every command an apply would run, without connecting')
    .addOption(
      new Option('--check', 'read the hosts and print what an apply would change on each, rule by rule; change nothing (exit 3 if anything would)').conflicts('dryRun'),
    )
  changing(connection(apply)).action((opts) => run(applyCommand(opts, io)))

  const rollback = cli
    .command('rollback')
    .description('restore, on each selected host, the ruleset saved before its newest change (or before change --to ID), and set back the host settings those changes made')
  selection(rollback)
    .option('--to <id>', 'restore the ruleset that was live before change ID (see fleet history)')
    .option('-n, --dry-run', 'print the commands a rollback would run, without connecting')
  changing(connection(rollback)).action((opts) => run(rollbackCommand(opts, io)))

  const audit = cli
    .command('audit')
    .description('read-only: per host, drift from the baseline, chains and rules no role owns, and conntrack (exit 3 on drift)')
  selection(audit).option('-n, --dry-run', "print, per host, the read-only commands an audit would run, without connecting")
  connection(audit).action((opts) => run(auditCommand(opts, io)))

  cli
    .command('schema')
    .description("print the inventory's JSON Schema, for editors: fleet schema > fleet.schema.json")
    .action(() => run(Promise.resolve(schemaCommand(io))))

  const history = cli.command('history').description('list the changes saved on each selected host, with their ids, status and what they applied')
  connection(selection(history, false)).action((opts) => run(historyCommand(opts, io)))

  cli
    .command('init')
    .description("read a router (read-only) and print an inventory with the seed's blanks filled in, each guess explained, for review")
    .addOption(new Option('--router <user@address>', 'the router to read, as you reach it over SSH (an ssh_config Host works too)').makeOptionMandatory())
    .addOption(new Option('-p, --port <n>', "the router's SSH port (default: ssh_config's, or 22)").argParser(wholeNumber('--port', 1, 65535)))
    .option('--identity <file>', 'the private key to use (default: the agent, ssh_config, ~/.ssh/id_*)')
    .option('--known-hosts <file>', 'the known_hosts file that checks host keys (default ~/.ssh/known_hosts)')
    .option('--ssh-config <file>', 'the ssh_config file (default ~/.ssh/config)')
    .option('--accept-new-host-keys', 'trust and record host keys not yet in known_hosts (changed keys are still refused)')
    .option('-o, --output <file>', 'write the inventory to FILE rather than to stdout')
    .option('--force', 'with -o, replace FILE if it exists')
    .action((opts) => run(initCommand(opts, io)))

  return cli
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let pending: Promise<number> | undefined
  try {
    await program(io, (p) => (pending = p)).parseAsync(argv as string[], { from: 'user' })
    return pending ? await pending : EXIT.ok
  } catch (error) {
    // --help and --version end here too, with status 0.
    if (error instanceof CommanderError && error.exitCode === 0) return EXIT.ok
    const options = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length)
    return reportFailure(error, io, { command: options.find((a) => !a.startsWith('-')) ?? 'fleet', json: options.includes('--json') })
  }
}
