import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { IncomingHttpHeaders } from 'node:http';
import { createAwsClients } from '../../../functions/adapters/aws-clients.ts';
import { S3ArtifactStore } from '../../../functions/adapters/s3/artifact-store.ts';
import { type BodyServer, startBodyServer } from '../../support/body-server.ts';

/**
 * S3 refuses PutObject and UploadPart on a bucket with Object Lock default retention unless the
 * request carries Content-MD5 or a flexible checksum. Our client sends flexible checksums only
 * where S3 always requires them, so every write must carry Content-MD5: checked here on the wire.
 */

const seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[] = [];
let server: BodyServer;
let s3: S3Client;

beforeAll(async () => {
  server = await startBodyServer((req, res, body) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    res.writeHead(200, { etag: '"e1"' });
    res.end();
  });
  ({ s3 } = createAwsClients({
    region: 'us-east-1',
    eventsTable: 'events',
    controlTable: 'control',
    artifactBucket: 'artifacts',
    endpoints: { dynamodb: server.url, s3: server.url },
  }));
});
afterAll(() => server.close());
beforeEach(() => {
  seen.length = 0;
});

const md5 = (body: string | Uint8Array) => createHash('md5').update(body).digest('base64');

function expectContentMd5(body: string): void {
  expect(seen).toHaveLength(1);
  const [request] = seen;
  expect(request!.method).toBe('PUT');
  expect(request!.body).toBe(body);
  expect(request!.headers['content-md5']).toBe(md5(body));
}

it('sends Content-MD5 with every part upload', async () => {
  const part = 'id,timestamp\n'.repeat(1000);
  await new S3ArtifactStore(s3, 'artifacts').uploadPart(
    'exports/exp_1/export.csv',
    'up-1',
    1,
    Buffer.from(part),
  );
  expectContentMd5(part);
  expect(seen[0]!.url).toContain('partNumber=1');
});

it('sends Content-MD5 with every whole-document write (manifests, audit checkpoints)', async () => {
  const manifest = JSON.stringify({ schema: 'manifest', sha256: 'a'.repeat(64) });
  await new S3ArtifactStore(s3, 'artifacts').putDocument(
    'exports/exp_1/manifest.json',
    manifest,
    'application/json',
  );
  expectContentMd5(manifest);

});
