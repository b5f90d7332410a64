import { createServer } from 'node:http';
import S3rver from 's3rver';
import { closeServer, listenOnLoopback } from './listen.ts';
import type { EmbeddedServer } from './embedded-dynamodb.ts';

/**
 * s3rver as S3, files under `directory`. Its Koa app is mounted on our own http.Server so that a
 * busy port is a clean error rather than an unhandled one.
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
  const server = createServer(s3rver.callback());
  const port = await listenOnLoopback(server, options.port, 'the embedded S3', 'KT_S3_PORT');
  return { endpoint: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}
