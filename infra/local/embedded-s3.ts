import { createServer } from 'node:http';
import S3rver from 's3rver';
import { closeServer, listenOnLoopback } from './listen.ts';
import type { EmbeddedServer } from './embedded-dynamodb.ts';
import { LocalStackError } from './local-stack-error.ts';
import { type S3rverUploadsLayout, withMultipartExtensions } from './s3-multipart-extensions.ts';

/**
 * s3rver as S3, files under `directory`. Its Koa app is mounted on our own http.Server so that a
 * busy port is a clean error rather than an unhandled one. Requests pass through
 * withMultipartExtensions first, which adds the multipart operations s3rver lacks (abort, list)
 * and S3's checks of a completion's part list.
 */
export async function startEmbeddedS3(options: {
  readonly port: number;
  readonly directory: string;
  readonly buckets: readonly string[];
}): Promise<EmbeddedServer> {
  const s3rver = new S3rver({
    directory: options.directory,
    silent: true,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  await s3rver.configureBuckets();
  const server = createServer(withMultipartExtensions(s3rver.callback(), uploadsLayout(s3rver)));
  const port = await listenOnLoopback(server, options.port, 'the embedded S3', 'KT_S3_PORT');
  return { endpoint: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

/** The upload directories as s3rver's own filesystem store computes them (not part of its typed API). */
function uploadsLayout(s3rver: S3rver): S3rverUploadsLayout {
  const store = (s3rver as unknown as { store?: Partial<FilesystemStore> }).store;
  if (typeof store?.getBucketPath !== 'function' || typeof store.getResourcePath !== 'function') {
    throw new LocalStackError('the installed s3rver has no filesystem store; s3rver 3.x is expected');
  }
  const { getBucketPath, getResourcePath } = store as FilesystemStore;
  return {
    bucketPath: (bucket) => getBucketPath.call(store, bucket),
    uploadsPath: (bucket) => getResourcePath.call(store, bucket, undefined, 'uploads'),
  };
}

interface FilesystemStore {
  getBucketPath(bucket: string): string;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
}
