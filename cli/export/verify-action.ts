import { createHash, createPublicKey } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ExportManifest } from '../../functions/core/evidence/manifest.ts';
import { readManifest } from '../../functions/core/evidence/read-manifest.ts';
import { verifyDocumentSignature } from '../../functions/core/evidence/signing.ts';
import { apiClientFor, type CliContext, type GlobalOptions } from '../context.ts';
import { CommandFailedError, oneLine, UsageError } from '../errors.ts';
import { fetchKeyList } from '../keys/key-list.ts';
import { formatQuantity, isHumanOutput, printJson, printLines } from '../output.ts';
import { createProgress } from '../progress.ts';
import {
  ArtifactFormatError,
  type ArtifactRecords,
  readCsvArtifactRecords,
  readJsonArtifactRecords,
} from './artifact-records.ts';
import {
  checkLine,
  companionChecks,
  type EvidenceCheck,
  fileChecks,
  manifestCheck,
  recordChecks,
  signatureCheck,
} from './evidence-checks.ts';
import { manifestPathFor } from './manifest-download.ts';

/**
 * `kt export verify`: checks a downloaded artifact against its signed manifest, the same checks
 * docs/verifying-evidence.md does with openssl and sha256sum: the manifest's signature, the file's
 * size and SHA-256, and (JSON, CSV) the records digest, count and export id recomputed from the
 * file's contents, which it streams. With --public-key nothing touches the network: no API
 * client is even built, so no token is needed. Every check is printed; exit 1 if any failed.
 */

export interface VerifyEvidenceFlags {
  readonly file: string;
  readonly manifest?: string;
  readonly publicKey?: string;
  /** A PDF report's companion CSV (default: the name the manifest gives it, beside --file). */
  readonly companion?: string;
}

export async function verifyEvidence(
  context: CliContext,
  globals: GlobalOptions,
  flags: VerifyEvidenceFlags,
): Promise<void> {
  const file = nonBlank('--file', flags.file);
  const manifestFile =
    flags.manifest === undefined ? manifestPathFor(file) : nonBlank('--manifest', flags.manifest);
  const keyFile = flags.publicKey === undefined ? undefined : nonBlank('--public-key', flags.publicKey);

  // Local files first: a missing one is reported before anything else happens.
  await requireFile(file, '--file', 'the downloaded artifact');
  const manifestText = await readText(
    manifestFile,
    flags.manifest === undefined
      ? 'kt export download saves it beside the file; or pass --manifest'
      : '--manifest',
  );
  const pem = keyFile === undefined ? undefined : await readPublicKey(keyFile);
  const companionFile = flags.companion === undefined ? undefined : nonBlank('--companion', flags.companion);
  if (companionFile !== undefined) await requireFile(companionFile, '--companion', "the PDF report's companion CSV");

  const report = new Report(context, globals);
  const manifest = parseManifest(manifestText);
  if ('problems' in manifest) {
    // Without a readable manifest there is nothing to check the file against.
    report.headline(undefined, file);
    report.add(manifestCheck(manifest.problems));
    report.finish(file);
    return;
  }
  if (companionFile !== undefined && manifest.companion === undefined) {
    throw new UsageError(`--companion applies to a PDF report only; ${file} is a ${manifest.format} export`);
  }
  report.headline(manifest, file);
  report.add(manifestCheck([]));

  if (pem !== undefined) {
    report.add(signatureCheck(manifest, verifyDocumentSignature(manifest, pem)));
  } else {
    report.add(await signatureWithListedKey(context, globals, manifest));
  }

  const digest = await digestOf(file);
  report.add(...fileChecks(manifest, digest));
  if (manifest.format === 'json' || manifest.format === 'csv') {
    report.add(...recordChecks(manifest, await readRecords(context, globals, file, manifest.format, digest.bytes)));
  } else if (manifest.companion !== undefined) {
    report.add(...(await checkCompanion(context, globals, manifest, file, companionFile)));
  }
  report.finish(file);
}

/**
 * A PDF's records are in its companion CSV, whose SHA-256 the manifest signs: found beside the
 * report under the name the manifest gives it (where `kt export download --companion` puts it
 * with that name), or named with --companion. Not at hand, the PDF itself is still verified and a
 * skipped check says how to get the CSV, since many auditors are handed the report alone.
 */
async function checkCompanion(
  context: CliContext,
  globals: GlobalOptions,
  manifest: ExportManifest,
  report: string,
  named: string | undefined,
): Promise<EvidenceCheck[]> {
  const expected = manifest.companion!.name;
  const file = named ?? path.join(path.dirname(report), path.basename(expected));
  if (named === undefined && !(await isFile(file))) {
    return companionChecks(manifest, {
      missing: `${expected} is not beside the report (save it with: kt export download --id ${manifest.exportId} --companion --output ${path.join(path.dirname(report), path.basename(expected))}; or pass --companion)`,
    });
  }
  const digest = await digestOf(file);
  const read = await readRecords(context, globals, file, 'csv', digest.bytes);
  return companionChecks(manifest, { file, digest, read });
}

/** Parsing is the slow pass (seconds per hundred MB): a bar on a terminal says it is moving. */
async function readRecords(
  context: CliContext,
  globals: GlobalOptions,
  file: string,
  format: 'json' | 'csv',
  bytes: number,
): Promise<Awaited<ReturnType<typeof recordsOf>>> {
  const progress = createProgress(context.io, globals.outputFormat);
  progress.start('Reading records', bytes, 'bytes');
  try {
    return await recordsOf(file, format, (count) => progress.increment(count));
  } finally {
    progress.stop();
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Prints the checks as they come (human) or all at the end (JSON), then the verdict. */
class Report {
  private readonly checks: EvidenceCheck[] = [];
  private manifest: ExportManifest | undefined;

  constructor(
    private readonly context: CliContext,
    private readonly globals: GlobalOptions,
  ) {}

  private get human(): boolean {
    return isHumanOutput(this.globals.outputFormat);
  }

  headline(manifest: ExportManifest | undefined, file: string): void {
    this.manifest = manifest;
    if (!this.human) return;
    printLines(this.context.io, [
      manifest === undefined
        ? `Verifying ${oneLine(file)}`
        : `Verifying ${oneLine(manifest.exportId)} (${manifest.format}, ${formatQuantity(manifest.records, 'record')})`,
    ]);
  }

  add(...checks: EvidenceCheck[]): void {
    this.checks.push(...checks);
    if (this.human)
      printLines(
        this.context.io,
        checks.map((check) => oneLine(checkLine(check, this.manifest))),
      );
  }

  /** Exit 0 when every check passed, else a CommandFailedError (exit 1) after the verdict. */
  finish(file: string): void {
    const failed = this.checks.filter((check) => !check.ok).length;
    if (this.human) {
      printLines(this.context.io, [
        failed === 0
          ? '✓ Evidence verified'
          : `✗ Evidence NOT verified: ${formatQuantity(failed, 'check')} failed`,
      ]);
    } else {
      printJson(this.context.io, { verified: failed === 0, checks: this.checks });
    }
    if (failed > 0) {
      throw new CommandFailedError(
        `${file} is not verified evidence: ${formatQuantity(failed, 'check')} failed`,
      );
    }
  }
}

function parseManifest(text: string): ExportManifest | { readonly problems: readonly string[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problems: [`the manifest is not JSON (${oneLine((error as Error).message)})`] };
  }
  const reading = readManifest(value);
  return reading.ok ? reading.manifest : { problems: reading.problems };
}

/** Online: the key the manifest names, from GET /v1/keys (any valid token may list them). */
async function signatureWithListedKey(
  context: CliContext,
  globals: GlobalOptions,
  manifest: ExportManifest,
): Promise<EvidenceCheck> {
  const { keys } = await fetchKeyList(apiClientFor(context, globals));
  const key = keys.find((candidate) => candidate.keyId === manifest.keyId);
  if (key === undefined) {
    return signatureCheck(
      manifest,
      false,
      `key ${manifest.keyId} is not among the API's signing keys (kt keys list)`,
    );
  }
  if (key.algorithm !== manifest.algorithm) {
    return signatureCheck(
      manifest,
      false,
      `key ${key.keyId} is ${key.algorithm}, the manifest says ${manifest.algorithm}`,
    );
  }
  return signatureCheck(manifest, verifyDocumentSignature(manifest, key.publicKeyPem));
}

/** Size and SHA-256 in one streamed pass. */
async function digestOf(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    await pipeline(createReadStream(file), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        bytes += chunk.length;
        hash.update(chunk);
      }
    });
  } catch (error) {
    throw cannotRead(file, error);
  }
  return { bytes, sha256: hash.digest('hex') };
}

async function recordsOf(
  file: string,
  format: 'json' | 'csv',
  onBytes: (count: number) => void,
): Promise<ArtifactRecords | ArtifactFormatError> {
  try {
    return format === 'json'
      ? await readJsonArtifactRecords(file, onBytes)
      : await readCsvArtifactRecords(file, onBytes);
  } catch (error) {
    if (error instanceof ArtifactFormatError) return error;
    throw cannotRead(file, error);
  }
}

function nonBlank(flag: string, value: string): string {
  if (value.trim() === '') throw new UsageError(`${flag} must name a file`);
  return value;
}

async function requireFile(path: string, flag: string, what: string): Promise<void> {
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (error) {
    throw cannotRead(path, error, `${flag} names ${what}`);
  }
  if (!isFile) throw new CommandFailedError(`cannot read ${path}: it is not a file (${flag} names ${what})`);
}

async function readText(path: string, hint: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw cannotRead(path, error, hint);
  }
}

async function readPublicKey(path: string): Promise<string> {
  const pem = await readText(path, 'save it with: kt keys get --id <keyId> --output key.pem');
  try {
    createPublicKey(pem);
  } catch {
    throw new CommandFailedError(
      `${path} is not a PEM public key (save one with: kt keys get --id <keyId> --output key.pem)`,
    );
  }
  return pem;
}

function cannotRead(path: string, error: unknown, hint?: string): CommandFailedError {
  const code = (error as { code?: unknown } | null)?.code;
  const reason =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'it is a directory'
          : oneLine(error instanceof Error ? error.message : String(error));
  return new CommandFailedError(`cannot read ${path}: ${reason}${hint === undefined ? '' : ` (${hint})`}`, {
    cause: error,
  });
}
