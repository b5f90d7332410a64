import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { formatBytes, isHumanOutput, printJson, printSuccess } from '../output.ts';
import { createProgress } from '../progress.ts';
import { downloadArtifact } from './download.ts';
import { exportsApi } from './exports-api.ts';
import { exportIdFlag, outputFlag } from './flags.ts';
import { fetchMatchingManifest, manifestPathFor, saveManifest } from './manifest-download.ts';
import { checkNamedOutput, chooseTarget, isDirectory, refuseExisting } from './target-path.ts';

/**
 * `kt export download`: fetches a completed job's artifact and proves it is the one the API made,
 * and saves its signed manifest beside it (`<file>.manifest.json`) for `kt export verify`.
 */

export interface DownloadFlags {
  readonly id: string;
  readonly output?: string;
  readonly force?: boolean;
  /** `--no-manifest` sets it false: the artifact alone. */
  readonly manifest?: boolean;
  /** A PDF export's companion CSV instead of the report (its manifest is the report's). */
  readonly companion?: boolean;
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
  const companion = flags.companion === true;
  // The companion's SHA-256 is signed in the report's manifest, saved with the report.
  const withManifest = flags.manifest !== false && !companion;
  await checkNamedOutput(output, force);
  if (withManifest && output !== undefined && !(await isDirectory(output))) {
    await refuseExisting(manifestPathFor(output), force);
  }

  const api = exportsApi(apiClientFor(context, globals));
  const link = companion ? await api.downloadLink(id, 'companion') : await api.downloadLink(id);
  const target = await chooseTarget(output, link.filename, id);
  await refuseExisting(target, force);
  const manifestPath = withManifest ? manifestPathFor(target) : undefined;
  if (manifestPath !== undefined) await refuseExisting(manifestPath, force);
  // Before any byte is written: a manifest that does not describe these bytes means saving nothing.
  const manifest = withManifest ? await fetchMatchingManifest(api, id, link) : undefined;

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

  // The artifact is verified and in place: its manifest (which matched the same digest) joins it.
  if (manifest !== undefined && manifestPath !== undefined) {
    await saveManifest(manifest, manifestPath, force, file.path);
  }

  if (isHumanOutput(globals.outputFormat)) {
    printSuccess(
      context.io,
      `Downloaded ${id} to ${file.path} (${formatBytes(file.bytes)}, SHA-256 verified)`,
    );
    if (manifestPath !== undefined) {
      printSuccess(
        context.io,
        `Saved manifest to ${manifestPath} (verify both with: kt export verify --file ${file.path})`,
      );
    }
  } else {
    printJson(context.io, {
      id,
      path: file.path,
      bytes: file.bytes,
      sha256: file.sha256,
      ...(manifestPath !== undefined && { manifest: manifestPath }),
    });
  }
}
