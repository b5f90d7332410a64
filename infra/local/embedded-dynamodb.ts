import type { Server } from 'node:http';
import dynalite from 'dynalite';
import { closeServer, listenOnLoopback } from './listen.ts';

export interface EmbeddedServer {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * dynalite as DynamoDB: on disk (LevelDB) when `path` is given, in memory otherwise.
 * Tables become ACTIVE at once, as the local stack creates them at every start.
 */
export async function startEmbeddedDynamoDb(options: { readonly port: number; readonly path?: string }): Promise<EmbeddedServer> {
  const server: Server = dynalite({
    ...(options.path ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const port = await listenOnLoopback(server, options.port, 'the embedded DynamoDB', 'KT_DYNAMODB_PORT');
  return { endpoint: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}
