import { type ExportManifest, manifestNameOf, manifestText } from '../../functions/core/evidence/manifest.ts';
import { readManifest } from '../../functions/core/evidence/read-manifest.ts';
import { ApiError, CommandFailedError, oneLine } from '../errors.ts';
import { formatCount } from '../output.ts';
import type { ExportsApi } from './exports-api.ts';
import { writeFileAtomically } from './place-file.ts';

/**
 * The signed manifest `kt export download` saves beside the artifact, so the pair can be checked
 * later with no network (`kt export verify`, or openssl alone). It is fetched and checked before
 * any artifact byte is written: a manifest that does not describe the artifact being downloaded
 * would be worthless evidence, so then nothing is saved at all.
 */

/** `compliance-report.json` → `compliance-report.json.manifest.json`, as the API names it beside the artifact. */
export function manifestPathFor(artifactPath: string): string {
  return manifestNameOf(artifactPath);
}

/** What the artifact must be: the API's download link, which the downloaded bytes are verified against. */
export interface ArtifactDigest {
  readonly bytes: number;
  readonly sha256: string;
}

/** Fetches the export's manifest and checks it describes this export and these bytes. */
export async function fetchMatchingManifest(
  api: ExportsApi,
  id: string,
  artifact: ArtifactDigest,
): Promise<ExportManifest> {
  const reading = readManifest(await manifestOrWhyNot(api, id));
  if (!reading.ok) {
    throw new CommandFailedError(
      `the API sent a manifest for ${id} that is not valid (${oneLine(reading.problems.join('; '))}); nothing was written`,
    );
  }
  const { manifest } = reading;
  if (manifest.exportId !== id) {
    throw new CommandFailedError(
      `the API sent the manifest of ${oneLine(manifest.exportId)} for ${id}; nothing was written`,
    );
  }
  if (manifest.artifact.bytes !== artifact.bytes || manifest.artifact.sha256 !== artifact.sha256) {
    throw new CommandFailedError(
      `the manifest of ${id} does not match its artifact (manifest: ${formatCount(manifest.artifact.bytes)} bytes, ` +
        `SHA-256 ${manifest.artifact.sha256}; artifact: ${formatCount(artifact.bytes)} bytes, SHA-256 ${artifact.sha256}); nothing was written`,
    );
  }
  return manifest;
}

/**
 * The API's manifest. An export without one (made before manifests existed) is refused rather
 * than saved alone: the user asked for evidence; --no-manifest is the explicit way to skip it.
 */
async function manifestOrWhyNot(api: ExportsApi, id: string): Promise<unknown> {
  try {
    return await api.manifest(id);
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 404 && error.status !== 409)) throw error;
    throw new CommandFailedError(
      `cannot get the manifest of ${id} (${oneLine(error.message)}); nothing was written. ` +
        'Pass --no-manifest to download the file without it',
      { cause: error },
    );
  }
}

/**
 * Writes the manifest as Finalize stored it (indented JSON; the signature covers its canonical
 * form, so the layout does not matter). Called once the artifact is in place.
 */
export async function saveManifest(
  manifest: ExportManifest,
  path: string,
  overwrite: boolean,
  artifactPath: string,
): Promise<void> {
  try {
    await writeFileAtomically(path, manifestText(manifest), overwrite);
  } catch (error) {
    if (error instanceof CommandFailedError) throw error; // already exists: says --force
    const code = (error as { code?: unknown }).code;
    const reason =
      typeof code === 'string' ? code : error instanceof Error ? oneLine(error.message) : String(error);
    throw new CommandFailedError(
      `cannot write ${path} (${reason}); ${artifactPath} was saved without its manifest`,
      { cause: error },
    );
  }
}
