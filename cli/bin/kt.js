#!/usr/bin/env node
// The `kt` executable: registers tsx so Node can load the TypeScript sources, then runs the CLI.
import { register } from 'tsx/esm/api';

// `kt export list | head -1`: the reader has gone; stop quietly, as other Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

register();
const { main } = await import('../main.ts');
process.exitCode = await main(process.argv);
