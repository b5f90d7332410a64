import { parseArgs } from 'node:util';
import { benchExport } from './export.ts';
import { benchIngest } from './ingest.ts';
import { benchPdf } from './pdf.ts';

/**
 * `npm run bench -- <name> [--events N]`. Each benchmark measures the project against a
 * baseline in the same run and reports the ratio: this machine is shared and noisy, so absolute
 * numbers drift between runs while ratios hold.
 */
const BENCHMARKS: Record<string, (options: { events?: number }) => Promise<void>> = {
  ingest: benchIngest,
  export: benchExport,
  pdf: benchPdf,
};

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { events: { type: 'string' } },
  });
  const names = positionals.length > 0 ? positionals : Object.keys(BENCHMARKS);
  const events = values.events === undefined ? undefined : Number(values.events);
  if (events !== undefined && (!Number.isInteger(events) || events < 1000)) {
    throw new Error('--events must be a whole number of at least 1000');
  }
  for (const name of names) {
    const bench = BENCHMARKS[name];
    if (bench === undefined) throw new Error(`unknown benchmark "${name}"; try one of: ${Object.keys(BENCHMARKS).join(', ')}`);
    await bench(events === undefined ? {} : { events });
  }
}

main().catch((error: unknown) => {
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
});
