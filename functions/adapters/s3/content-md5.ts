import { createHash } from 'node:crypto';

/**
 * The Content-MD5 header value (base64 MD5) of a body. S3 refuses PutObject and UploadPart on a
 * bucket with Object Lock default retention unless the request carries Content-MD5 or a flexible
 * checksum, and our S3 client sends flexible checksums only where S3 requires them
 * (functions/adapters/aws-clients.ts), so every write to the artifact bucket sends this instead.
 * Unlike a per-part CRC32 it asks nothing of CompleteMultipartUpload.
 */
export function contentMd5(body: Uint8Array | string): string {
  return createHash('md5').update(body).digest('base64');
}
