import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalStackError } from './local-stack-error.ts';

/**
 * Listens on the loopback interface only (the local stack holds an admin token) and turns a busy
 * port into one clear line naming the variable that moves it. Resolves to the bound port.
 */
export function listenOnLoopback(
  server: Server,
  port: number,
  what: string,
  variable: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(listenError(error, port, what, variable));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, '127.0.0.1');
  });
}

/** Why listening on `port` failed, as one line naming the variable that moves the port. */
export function listenError(
  error: { readonly code?: string; readonly message: string },
  port: number,
  what: string,
  variable: string,
): LocalStackError {
  if (error.code === 'EADDRINUSE') {
    return new LocalStackError(`port ${port} for ${what} is already in use; set ${variable} to another port`);
  }
  if (error.code === 'EACCES') {
    return new LocalStackError(
      `not allowed to listen on port ${port} for ${what}; set ${variable} to a port above 1023`,
    );
  }
  return new LocalStackError(`${what} could not listen on port ${port}: ${error.message}`, { cause: error });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
