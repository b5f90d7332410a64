import type { LocalConfig } from '../../infra/local/local-config.ts';

/**
 * The in-process local stack as integration tests run it: every server on a free port, data in
 * `dataDir`, no demo events, no request log; `overrides` sets anything else.
 */
export function testStackConfig(dataDir: string, overrides: Partial<LocalConfig> = {}): LocalConfig {
  return { apiPort: 0, dynamodbPort: 0, s3Port: 0, dataDir, demoEvents: 0, logRequests: false, ...overrides };
}

/** Retry intervals of zero for every state of the export workflow, so a test's retries do not wait. */
export const NO_RETRY_WAIT = {
  Prepare: 0,
  ExportPage: 0,
  RenderReport: 0,
  Finalize: 0,
  Deliver: 0,
  RecordAudit: 0,
  MarkFailed: 0,
} as const;
