import { backoffDelay, retryAfterMs } from '../../../../cli/api/retry.ts';

describe('backoff', () => {
  const policy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

  it('draws full-jitter delays under an exponentially growing, capped ceiling', () => {
    expect(backoffDelay(0, policy, () => 0)).toBe(0);
    expect(backoffDelay(0, policy, () => 0.999)).toBe(99);
    expect(backoffDelay(2, policy, () => 0.5)).toBe(200);
    expect(backoffDelay(10, policy, () => 0.999)).toBe(999);
  });

  it('reads Retry-After in seconds or as a date, however long (the client decides whether to wait)', () => {
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs('3600')).toBe(3_600_000);
    expect(retryAfterMs(new Date(Date.UTC(2026, 0, 1, 0, 0, 5)).toUTCString(), Date.UTC(2026, 0, 1))).toBe(
      5000,
    );
    expect(retryAfterMs('soon')).toBeUndefined();
  });
});
