import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { formatBytes, isHumanOutput, printJson, printSuccess } from '../output.ts';
import { createProgress } from '../progress.ts';
import { downloadArtifact } from './download.ts';
import { exportsApi } from './exports-api.ts';
import { exportIdFlag, outputFlag } from './flags.ts';
import { checkNamedOutput, chooseTarget, refuseExisting } from './target-path.ts';

/** `kt export download`: fetches a completed job's artifact and proves it is the one the API made. */

export interface DownloadFlags {
  readonly id: string;
  readonly output?: string;
  readonly force?: boolean;
}

export async function downloadExport(
  context: CliContext,
  globals: GlobalOptions,
  flags: DownloadFlags,
  signal?: AbortSignal,
): Promise<void> {
  const id = exportIdFlag(flags.id);
  const output = outputFlag(flags.output);
  const force = flags.force === true;
  await checkNamedOutput(output, force);

  const link = await exportsApi(apiClientFor(context, globals)).downloadLink(id);
  const target = await chooseTarget(output, link.filename, id);
  await refuseExisting(target, force);

  const progress = createProgress(context.io, globals.outputFormat);
  progress.start('Downloading', link.bytes, 'bytes');
  let file: Awaited<ReturnType<typeof downloadArtifact>>;
  try {
    file = await downloadArtifact(link, target, {
      overwrite: force,
      onBytes: (count) => progress.increment(count),
      ...(context.http?.fetch !== undefined && { fetch: context.http.fetch }),
      ...(signal !== undefined && { signal }),
    });
  } finally {
    progress.stop();
  }

  if (isHumanOutput(globals.outputFormat)) {
    printSuccess(
      context.io,
      `Downloaded ${id} to ${file.path} (${formatBytes(file.bytes)}, SHA-256 verified)`,
    );
  } else {
    printJson(context.io, { id, path: file.path, bytes: file.bytes, sha256: file.sha256 });
  }
}
