import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Level } from 'level';
import { findRepoRoot } from '../paths.ts';
import { listenError } from './listen.ts';
import { LocalStackError } from './local-stack-error.ts';

export interface EmbeddedServer {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * What runs in dynalite's thread, as plain CommonJS so it needs no TypeScript loader (npm start
 * runs under tsx, jest under its own transform): listen on loopback, say on which port (or why
 * not), and close on `close`.
 */
const DYNALITE_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const path = require('node:path');
// dynalite keeps the store it creates to itself; its db module's create is wrapped for that one
// call so that the TransactWriteItems extension works on the same store and locks.
const dynaliteDir = path.dirname(workerData.dynalite);
const dynaliteDb = require(path.join(dynaliteDir, 'db'));
const create = dynaliteDb.create;
let store;
dynaliteDb.create = (options) => (store = create(options));
const server = require(workerData.dynalite)(workerData.options);
dynaliteDb.create = create;
require(workerData.transactions).installTransactWriteItems(server, store, dynaliteDir);
server.once('error', (error) => parentPort.postMessage({ error: { code: error.code, message: error.message } }));
server.listen(workerData.port, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  server.close(() => parentPort.postMessage({ closed: true }));
  server.closeAllConnections();
});
`;

interface ThreadMessage {
  readonly port?: number;
  readonly error?: { readonly code?: string; readonly message: string };
}

/**
 * dynalite as DynamoDB: on disk (LevelDB) when `path` is given, in memory otherwise.
 * Tables become ACTIVE at once, as the local stack creates them at every start.
 *
 * It runs in a thread of its own, as DynamoDB runs apart from the Lambda functions on AWS: the
 * API's handlers (with their AWS SDK calls) and dynalite's request handling then use two cores
 * instead of taking turns on one event loop. An uncaught error in that thread still stops the
 * process, as it did when dynalite shared the main thread.
 */
export async function startEmbeddedDynamoDb(options: {
  readonly port: number;
  readonly path?: string;
}): Promise<EmbeddedServer> {
  if (options.path) await probeLevelDb(options.path);
  // Resolved as the project resolves its own dependencies (no import.meta: jest loads CommonJS).
  const dynalite = createRequire(path.join(process.cwd(), 'package.json')).resolve('dynalite');
  const worker = new Worker(DYNALITE_THREAD, {
    eval: true,
    // Plain CommonJS: none of this process's flags (tsx's loader among them) are needed there.
    execArgv: [],
    workerData: {
      dynalite,
      transactions: path.join(findRepoRoot(), 'infra', 'local', 'dynalite-transact-write.cjs'),
      port: options.port,
      options: {
        ...(options.path ? { path: options.path } : {}),
        createTableMs: 0,
        deleteTableMs: 0,
        updateTableMs: 0,
      },
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    const settle = () => {
      worker.off('error', onError);
      worker.off('exit', onExit);
      worker.off('message', onMessage);
    };
    const onError = (error: Error) => {
      settle();
      reject(
        new LocalStackError(`the embedded DynamoDB failed to start: ${error.message}`, { cause: error }),
      );
    };
    const onExit = (code: number) => {
      settle();
      reject(new LocalStackError(`the embedded DynamoDB stopped (exit code ${code}) before it listened`));
    };
    const onMessage = (message: ThreadMessage) => {
      settle();
      if (message.port !== undefined) return resolve(message.port);
      void worker.terminate();
      const failure = message.error ?? { message: 'it said neither a port nor why not' };
      reject(listenError(failure, options.port, 'the embedded DynamoDB', 'KT_DYNAMODB_PORT'));
    };
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.once('message', onMessage);
  });
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.once('message', () => void worker.terminate());
        worker.postMessage('close');
      });
      return closing;
    },
  };
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
