import type { LocalConfig } from '../../infra/local/local-config.ts';

/**
 * The in-process local stack as integration tests run it: every server on a free port, data in
 * `dataDir`, no demo events, no request log; `overrides` sets anything else.
 */
export function testStackConfig(dataDir: string, overrides: Partial<LocalConfig> = {}): LocalConfig {
  return { apiPort: 0, dynamodbPort: 0, s3Port: 0, dataDir, demoEvents: 0, logRequests: false, ...overrides };
}
