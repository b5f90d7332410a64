import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { generateToken } from '../../functions/core/auth/tokens.ts';
import { countItems } from '../support/count-items.ts';
import { freePort } from '../support/free-port.ts';
import {
  ROOT,
  runKt,
  runLocalStackEntry,
  type StartedStack,
  startFreshStack,
} from '../support/processes.ts';

const SAMPLE = 'events/sample-decision-events.jsonl';
const sampleLines = readFileSync(path.join(ROOT, SAMPLE), 'utf8').trim().split('\n').length;

/**
 * A new user's first minutes: `npm start` on a fresh data dir, then the real `kt` binary imports
 * the sample file with the printed token. Ports are free ones so the suite runs beside a real
 * `npm start`.
 */
describe('npm start and kt events import', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  let stack: StartedStack;

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'kt-e2e-'));
    stack = await startFreshStack(root, { KT_DEMO_EVENTS: '1200' });
    env = stack.env;
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** Event items; every one must have its write-once id record beside it. */
  const countStored = async () => {
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${env.KT_DYNAMODB_PORT}`,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    try {
      const items = await countItems(client, 'keeptrusts-decision-events', 'D#');
      expect(await countItems(client, 'keeptrusts-decision-events', 'ID#')).toBe(items);
      return items;
    } finally {
      client.destroy();
    }
  };

  it('prints the endpoints, the seeding and the two export lines of tutorial Step 1', () => {
    const out = stack.output();
    expect(out).toContain('Seeding demo events… 1,200 / 1,200');
    expect(out).toMatch(/API +http:\/\/localhost:\d+/);
    expect(out).toMatch(/DynamoDB +http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/S3 +http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toContain(`export KEEPTRUSTS_API_URL="${stack.apiUrl}"`);
    expect(stack.token).toMatch(/^kt_[A-Za-z0-9_-]{43}$/);
    const tokenFile = path.join(env.KT_DATA_DIR!, 'admin-token');
    expect(readFileSync(tokenFile, 'utf8').trim()).toBe(stack.token);
    expect(statSync(tokenFile).mode & 0o077).toBe(0);
  });

  it('imports the sample with the printed token, and a second import stores nothing twice', async () => {
    const kt = { KEEPTRUSTS_API_URL: stack.apiUrl, KEEPTRUSTS_API_TOKEN: stack.token };
    const first = await runKt(['events', 'import', '--file', SAMPLE], kt);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const n = sampleLines.toLocaleString('en-US');
    expect(first.stdout.trim()).toBe(`✓ Imported ${n} events (${n} new, 0 already stored)`);
    expect(await countStored()).toBe(1200 + sampleLines);

    const again = await runKt(['events', 'import', '--file', SAMPLE, '-o', 'json'], kt);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      imported: sampleLines,
      new: 0,
      alreadyStored: sampleLines,
      conflicts: [],
      file: SAMPLE,
    });
    const human = await runKt(['events', 'import', '--file', SAMPLE], kt);
    expect(human.stdout.trim()).toBe(`✓ Imported ${n} events (0 new, ${n} already stored)`);
    expect(await countStored()).toBe(1200 + sampleLines);
  });

  it('refuses a wrong token with one line and exit code 4', async () => {
    const result = await runKt(['events', 'import', '--file', SAMPLE], {
      KEEPTRUSTS_API_URL: stack.apiUrl,
      KEEPTRUSTS_API_TOKEN: generateToken(),
    });
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: .*token/i);
  });

  it('refuses a file with a bad event before uploading any of it', async () => {
    const file = path.join(root, 'bad.jsonl');
    const good = readFileSync(path.join(ROOT, SAMPLE), 'utf8').trim().split('\n').slice(0, 3);
    const fresh = good.map((line, i) => line.replace(/"id":"evt_[^"]+"/, `"id":"evt_badfile${i}"`));
    writeFileSync(file, `${fresh.join('\n')}\n{"id":"evt_badfile9","timestamp":"yesterday"}\n`);
    const before = await countStored();
    const result = await runKt(['events', 'import', '--file', file], {
      KEEPTRUSTS_API_URL: stack.apiUrl,
      KEEPTRUSTS_API_TOKEN: stack.token,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/line 4: timestamp must be an ISO 8601 UTC timestamp/);
    expect(await countStored()).toBe(before);
  });

  it('refuses a second stack on a busy port with one line and a non-zero exit', async () => {
    const result = await runLocalStackEntry({
      ...env,
      KT_DATA_DIR: path.join(root, 'second'),
      KT_DYNAMODB_PORT: String(await freePort()),
      KT_S3_PORT: String(await freePort()),
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `error: port ${env.PORT} for the API is already in use; set PORT to another port`,
    );
  });

  it('refuses a corrupt or unwritable data dir with one line', async () => {
    const corrupt = path.join(root, 'corrupt');
    mkdirSync(corrupt);
    writeFileSync(path.join(corrupt, 'state.json'), '{ not json');
    const ports = async () => ({
      PORT: String(await freePort()),
      KT_DYNAMODB_PORT: String(await freePort()),
      KT_S3_PORT: String(await freePort()),
    });
    const bad = await runLocalStackEntry({ ...env, ...(await ports()), KT_DATA_DIR: corrupt });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^error: data dir .*corrupt .*state\.json is unreadable.*$/);

    const brokenStore = path.join(root, 'broken-store');
    mkdirSync(path.join(brokenStore, 'dynamodb'), { recursive: true });
    writeFileSync(
      path.join(brokenStore, 'state.json'),
      JSON.stringify({ version: 1, createdAt: '2026-04-01T00:00:00Z' }),
    );
    writeFileSync(path.join(brokenStore, 'dynamodb', 'CURRENT'), 'garbage\n');
    const broken = await runLocalStackEntry({ ...env, ...(await ports()), KT_DATA_DIR: brokenStore });
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim()).toMatch(
      /^error: the DynamoDB data in .* is corrupt \([A-Z_]+\); move the data dir away/,
    );

    const file = path.join(root, 'a-file');
    writeFileSync(file, 'x');
    const unwritable = await runLocalStackEntry({
      ...env,
      ...(await ports()),
      KT_DATA_DIR: path.join(file, 'data'),
    });
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr.trim()).toMatch(/^error: data dir .* is not a writable folder \(ENOTDIR\)/);
    expect(existsSync(path.join(file, 'data'))).toBe(false);
  });

  it('stops cleanly on Ctrl-C and keeps the data and token across a restart', async () => {
    const code = await stack.stop();
    expect(code).toBe(0);
    expect(stack.output()).toContain('Stopped.');
    // New ports (one picked before could be taken by now), the same data dir.
    stack = await startFreshStack(root, { KT_DEMO_EVENTS: '1200' });
    env = stack.env;
    expect(stack.output()).not.toContain('Seeding');
    expect(stack.token).toBe(readFileSync(path.join(env.KT_DATA_DIR!, 'admin-token'), 'utf8').trim());
    // Printed only on the start that created it; afterwards the banner says where it is kept.
    expect(stack.output()).not.toContain(stack.token);
    expect(stack.output()).toContain(
      `export KEEPTRUSTS_API_TOKEN="$(cat ${path.join(env.KT_DATA_DIR!, 'admin-token')})"`,
    );
    expect(await countStored()).toBe(1200 + sampleLines);
  });
});
