// arms: the way in. `arms status` — what monitoring scripts call again and again — is answered
// without loading the option parser (commander costs more to load than the rest of the command);
// everything else goes through main.ts, which also answers `arms status --help` and mistakes.
import { CommandError } from '../../client/client';
import { status } from './groups';

const argv = process.argv.slice(2);
if (argv[0] === 'status' && (argv.length === 1 || (argv.length === 2 && argv[1] === '--json'))) {
  status({ json: argv.length === 2 }).then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`arms: ${e instanceof CommandError ? e.message : `internal error: ${(e as Error).message}`}\n`);
      process.exitCode = e instanceof CommandError ? e.exitCode : 1;
    },
  );
} else {
  require('./main');
}
