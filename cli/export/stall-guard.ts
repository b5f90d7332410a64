/**
 * A watchdog for a streamed transfer: its signal aborts when no data arrives for a while, so a
 * dead connection ends in an error instead of a hang, while a big but moving transfer may take
 * as long as it needs. The caller's own cancellation (Ctrl-C) aborts it too.
 */

export interface StallGuard {
  readonly signal: AbortSignal;
  touch(): void;
  done(): void;
}

/** Aborts when no bytes arrive for `ms` (or when the caller cancels). */
export function stallGuard(ms: number, cancel: AbortSignal | undefined): StallGuard {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new StalledError()), ms);
  };
  arm();
  return {
    signal: cancel ? AbortSignal.any([cancel, controller.signal]) : controller.signal,
    touch: arm,
    done: () => clearTimeout(timer),
  };
}

export class StalledError extends Error {
  override readonly name = 'StalledError';
}
