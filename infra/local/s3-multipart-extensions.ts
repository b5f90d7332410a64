import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { join } from 'node:path';

/**
 * Where s3rver's filesystem store keeps a bucket and its open multipart uploads. Both come from
 * s3rver's own store (lib/stores/filesystem.js): `getBucketPath(bucket)` and
 * `getResourcePath(bucket, undefined, 'uploads')`, i.e. `<directory>/<bucket>/._S3rver_uploads`.
 * That directory holds one directory per open upload id with the files `key` (the object key),
 * `metadata` (the initiating request's headers as JSON) and the parts `<n>` and `<n>.md5` (the part's
 * MD5 in hex, which is its ETag); completing an upload deletes its directory.
 */
export interface S3rverUploadsLayout {
  bucketPath(bucket: string): string;
  uploadsPath(bucket: string): string;
}

/**
 * Why this exists: s3rver 3.x implements initiate, upload-part and complete, but answers
 * AbortMultipartUpload with 405 and ListMultipartUploads with 501. The export pipeline must abort
 * its upload when an export fails, and the tests must prove that no upload stays open, so those
 * two operations are answered here, from s3rver's own upload directories. For the same lifecycle,
 * UploadPart and CompleteMultipartUpload on an upload id that is unknown (or belongs to another
 * key) get S3's 404 NoSuchUpload here: s3rver would create a stray upload directory for such a part,
 * and fail such a completion with a retried 500. A completion's part list is checked as S3 checks
 * it (see completionProblem) before s3rver sees it, because s3rver checks nothing and crashes the
 * whole process on a part that was never uploaded. Every other request goes to s3rver untouched.
 * Path-style requests only (the local clients set forcePathStyle); no signature checks, as s3rver
 * does not verify SigV4 signatures either.
 */
export function withMultipartExtensions(
  s3rver: RequestListener,
  layout: S3rverUploadsLayout,
): RequestListener {
  return (req, res) => {
    intercept(req, res, layout)
      .then((next) => {
        if (next !== undefined) s3rver(next, res);
      })
      .catch((error: unknown) => {
        req.resume();
        if (res.headersSent) res.destroy();
        else sendXml(res, 500, errorXml('InternalError', `The embedded S3 failed: ${String(error)}`));
      });
  };
}

type Operation = 'listUploads' | 'abort' | 'uploadPart' | 'complete';

/** Answers the request when it is one of ours, or returns the request to hand on to s3rver. */
async function intercept(
  req: IncomingMessage,
  res: ServerResponse,
  layout: S3rverUploadsLayout,
): Promise<IncomingMessage | undefined> {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
  const slash = path.indexOf('/', 1);
  let bucket: string;
  let key: string;
  try {
    bucket = decodeURIComponent(slash === -1 ? path.slice(1) : path.slice(1, slash));
    key = slash === -1 ? '' : decodeURIComponent(path.slice(slash + 1));
  } catch {
    return req;
  }
  const uploadId = query.get('uploadId');
  let operation: Operation | undefined;
  if (req.method === 'GET' && key === '' && query.has('uploads')) operation = 'listUploads';
  else if (key !== '' && uploadId !== null) {
    if (req.method === 'DELETE') operation = 'abort';
    else if (req.method === 'PUT') operation = 'uploadPart';
    else if (req.method === 'POST') operation = 'complete';
  }
  if (operation === undefined) return req;

  if (!BUCKET_NAME.test(bucket) || !(await isDirectory(layout.bucketPath(bucket)))) {
    if (operation === 'uploadPart' || operation === 'complete') return req; // s3rver says NoSuchBucket
    req.resume();
    const message = 'The specified bucket does not exist';
    sendXml(res, 404, errorXml('NoSuchBucket', message, { BucketName: bucket }));
    return undefined;
  }
  if (operation === 'listUploads') {
    req.resume();
    sendXml(res, 200, await listUploadsXml(layout.uploadsPath(bucket), bucket, query));
    return undefined;
  }
  const upload = await readUpload(layout.uploadsPath(bucket), uploadId!);
  if (upload === undefined || upload.key !== key) {
    req.resume(); // a refused part body is drained, so the connection stays usable
    const message =
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been ' +
      'aborted or completed.';
    sendXml(res, 404, errorXml('NoSuchUpload', message, { UploadId: uploadId! }));
    return undefined;
  }
  if (operation === 'uploadPart') return req;
  if (operation === 'complete') {
    const body = await readBody(req);
    const problem =
      body === undefined
        ? { code: 'MalformedXML', message: 'The part list is larger than any S3 accepts.' }
        : await completionProblem(upload.directory, body);
    if (problem === undefined) return replay(req, body!);
    sendXml(res, 400, errorXml(problem.code, problem.message, { UploadId: upload.uploadId }));
    return undefined;
  }
  await rm(upload.directory, { recursive: true, force: true });
  req.resume();
  res.writeHead(204, { 'x-amz-request-id': requestId() }).end();
  return undefined;
}

/** S3's minimum size of every part but the last. */
const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_COMPLETE_BODY_BYTES = 4 * 1024 * 1024;

/**
 * What S3 would refuse in a CompleteMultipartUpload part list: parts out of order, a part that was
 * not uploaded or whose ETag differs (InvalidPart), and a part other than the last under 5 MiB.
 * A body without parts goes on to s3rver, which answers MalformedXML.
 */
async function completionProblem(
  uploadDirectory: string,
  body: Buffer,
): Promise<{ code: string; message: string } | undefined> {
  const parts = [...body.toString('utf8').matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map(([, part]) => ({
    number: Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(part!)?.[1]),
    // The ETag comes quoted, as an entity or literally; s3rver keeps the bare MD5.
    etag: (/<ETag>([\s\S]*?)<\/ETag>/.exec(part!)?.[1] ?? '').replace(/&quot;|&#34;|"/g, '').trim(),
  }));
  if (parts.length === 0) return undefined;
  if (parts.some((part, i) => i > 0 && !(part.number > parts[i - 1]!.number))) {
    return {
      code: 'InvalidPartOrder',
      message: 'The list of parts was not in ascending order. Parts must be ordered by part number.',
    };
  }
  const sizes = await Promise.all(
    parts.map(async (part) => {
      const partPath = join(uploadDirectory, String(part.number));
      const [size, md5] = await Promise.all([
        stat(partPath).then((s) => s.size, missingAsUndefined),
        readFile(`${partPath}.md5`, 'utf8').then((text) => text.trim(), missingAsUndefined),
      ]);
      return md5 === part.etag ? size : undefined;
    }),
  );
  if (sizes.includes(undefined)) {
    return {
      code: 'InvalidPart',
      message:
        'One or more of the specified parts could not be found. The part may not have been uploaded, ' +
        "or the specified entity tag may not match the part's entity tag.",
    };
  }
  if (sizes.slice(0, -1).some((size) => size! < MIN_PART_BYTES)) {
    return {
      code: 'EntityTooSmall',
      message: 'Your proposed upload is smaller than the minimum allowed object size.',
    };
  }
  return undefined;
}

/** The whole (small) request body, or undefined when it is larger than a part list can be. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length <= MAX_COMPLETE_BODY_BYTES) chunks.push(chunk);
    });
    req.once('end', () => resolve(length <= MAX_COMPLETE_BODY_BYTES ? Buffer.concat(chunks) : undefined));
    req.once('error', reject);
  });
}

/** A request like `req`, on the same socket, whose body is `body` again (s3rver reads it itself). */
function replay(req: IncomingMessage, body: Buffer): IncomingMessage {
  const copy = new IncomingMessage(req.socket);
  copy.method = req.method;
  copy.url = req.url;
  copy.headers = req.headers;
  copy.rawHeaders = req.rawHeaders;
  copy.httpVersion = req.httpVersion;
  copy.httpVersionMajor = req.httpVersionMajor;
  copy.httpVersionMinor = req.httpVersionMinor;
  // Marked complete, so that when it ends it does not count as aborted (which would close the socket).
  copy.complete = true;
  if (body.length > 0) copy.push(body);
  copy.push(null);
  return copy;
}

interface OpenUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date;
  readonly directory: string;
}

// Names that stay inside their directory (s3rver's upload ids are 32 hex digits).
const UPLOAD_ID = /^[A-Za-z0-9_-]{1,128}$/;
const BUCKET_NAME = /^(?!\.\.?$)[A-Za-z0-9._-]{1,255}$/;

async function readUpload(uploadsPath: string, uploadId: string): Promise<OpenUpload | undefined> {
  if (!UPLOAD_ID.test(uploadId)) return undefined;
  const directory = join(uploadsPath, uploadId);
  try {
    // `key` is written once when the upload starts, so its mtime is the initiation time.
    const [key, keyStat] = await Promise.all([
      readFile(join(directory, 'key'), 'utf8'),
      stat(join(directory, 'key')),
    ]);
    return { key, uploadId, initiated: keyStat.mtime, directory };
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

const DEFAULT_MAX_UPLOADS = 1000;

/** ListMultipartUploads with prefix, max-uploads, key-marker/upload-id-marker and encoding-type=url. */
async function listUploadsXml(uploadsPath: string, bucket: string, query: URLSearchParams): Promise<string> {
  const prefix = query.get('prefix') ?? '';
  const keyMarker = query.get('key-marker') ?? '';
  const uploadIdMarker = query.get('upload-id-marker') ?? '';
  const requestedMax = Number(query.get('max-uploads') ?? DEFAULT_MAX_UPLOADS);
  const maxUploads = Number.isInteger(requestedMax)
    ? Math.min(Math.max(requestedMax, 0), DEFAULT_MAX_UPLOADS)
    : DEFAULT_MAX_UPLOADS;
  const urlEncoded = query.get('encoding-type') === 'url';
  const text = (value: string) => escapeXml(urlEncoded ? encodeURIComponent(value) : value);

  let ids: string[];
  try {
    ids = await readdir(uploadsPath);
  } catch (error) {
    if (!isMissing(error)) throw error;
    ids = [];
  }
  const uploads = (await Promise.all(ids.map((id) => readUpload(uploadsPath, id))))
    .filter((upload): upload is OpenUpload => upload?.key.startsWith(prefix) === true)
    // S3's order: by key, then by initiation time.
    .sort(
      (a, b) =>
        compare(a.key, b.key) ||
        a.initiated.getTime() - b.initiated.getTime() ||
        compare(a.uploadId, b.uploadId),
    );
  let start = 0;
  if (keyMarker !== '') {
    const marked = uploads.findIndex((u) => u.key === keyMarker && u.uploadId === uploadIdMarker);
    start = uploadIdMarker !== '' && marked !== -1 ? marked + 1 : uploads.findIndex((u) => u.key > keyMarker);
    if (start === -1) start = uploads.length;
  }
  const page = uploads.slice(start, start + maxUploads);
  const truncated = start + page.length < uploads.length;
  const last = page.at(-1);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    `<Bucket>${escapeXml(bucket)}</Bucket>`,
    `<KeyMarker>${text(keyMarker)}</KeyMarker>`,
    `<UploadIdMarker>${escapeXml(uploadIdMarker)}</UploadIdMarker>`,
    ...(truncated && last
      ? [
          `<NextKeyMarker>${text(last.key)}</NextKeyMarker>`,
          `<NextUploadIdMarker>${escapeXml(last.uploadId)}</NextUploadIdMarker>`,
        ]
      : []),
    ...(urlEncoded ? ['<EncodingType>url</EncodingType>'] : []),
    `<Prefix>${text(prefix)}</Prefix>`,
    `<MaxUploads>${maxUploads}</MaxUploads>`,
    `<IsTruncated>${truncated}</IsTruncated>`,
    ...page.map(
      (u) =>
        `<Upload><Key>${text(u.key)}</Key><UploadId>${escapeXml(u.uploadId)}</UploadId>` +
        `<StorageClass>STANDARD</StorageClass><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`,
    ),
    '</ListMultipartUploadsResult>',
  ].join('');
}

function errorXml(code: string, message: string, detail: Record<string, string> = {}): string {
  const fields = { Code: code, Message: message, ...detail, RequestId: requestId() };
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${Object.entries(fields)
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join('')}</Error>`;
}

function sendXml(res: ServerResponse, status: number, xml: string): void {
  res
    .writeHead(status, {
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(xml),
      'x-amz-request-id': requestId(),
    })
    .end(xml);
}

function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Code-unit order matches S3's UTF-8 byte order for all but astral characters; enough here. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function requestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

function missingAsUndefined(error: unknown): undefined {
  if (isMissing(error)) return undefined;
  throw error;
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
