import type { Server } from 'node:http';
import dynalite from 'dynalite';
import { Level } from 'level';
import { closeServer, listenOnLoopback } from './listen.ts';
import { LocalStackError } from './local-stack-error.ts';

export interface EmbeddedServer {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * dynalite as DynamoDB: on disk (LevelDB) when `path` is given, in memory otherwise.
 * Tables become ACTIVE at once, as the local stack creates them at every start.
 */
export async function startEmbeddedDynamoDb(options: {
  readonly port: number;
  readonly path?: string;
}): Promise<EmbeddedServer> {
  if (options.path) await probeLevelDb(options.path);
  const server: Server = dynalite({
    ...(options.path ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const port = await listenOnLoopback(server, options.port, 'the embedded DynamoDB', 'KT_DYNAMODB_PORT');
  return { endpoint: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

/**
 * dynalite opens its LevelDB lazily and throws from inside a request when it cannot, so the
 * store is opened once here first, where a corrupt or locked store becomes one clear line.
 */
async function probeLevelDb(path: string): Promise<void> {
  const db = new Level(path);
  try {
    await db.open();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new LocalStackError(
        `the DynamoDB data in ${path} is in use by another process (another npm start?)`,
        {
          cause: error,
        },
      );
    }
    throw new LocalStackError(
      `the DynamoDB data in ${path} is corrupt (${cause?.code ?? (error as Error).message}); move the data dir away or set KT_DATA_DIR to start afresh`,
      { cause: error },
    );
  }
  await db.close();
}
