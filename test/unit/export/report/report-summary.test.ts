import {
  emptySummary,
  MAX_ITEMISED_VALUES,
  SummaryAccumulator,
} from '../../../../functions/core/export/report/report-summary.ts';
import { maxDetailRowsFrom } from '../../../../functions/handlers/workflow/render-report.ts';

const record = (n: number, team: string) => ({
  id: `evt_${n}`,
  timestamp: `2026-04-${String(1 + (n % 3)).padStart(2, '0')}T10:00:00Z`,
  model: 'gpt-4o',
  policy: n % 2 === 0 ? 'pii-redaction' : 'cost-guard',
  action: 'redact',
  result: 'modified',
  tokens: 10,
  latency_ms: 100,
  team,
});

describe('the report summary', () => {
  it('counts every record by action, result, policy, team, model and day, with tokens and latency', () => {
    const summary = new SummaryAccumulator();
    for (let n = 0; n < 6; n += 1) summary.add(record(n, n < 4 ? 'データ分析チーム' : 'Équipe'));
    expect(summary.summary()).toEqual({
      records: 6,
      breakdowns: {
        action: { counts: { redact: 6 }, others: 0 },
        result: { counts: { modified: 6 }, others: 0 },
        policy: { counts: { 'pii-redaction': 3, 'cost-guard': 3 }, others: 0 },
        team: { counts: { データ分析チーム: 4, Équipe: 2 }, others: 0 },
        model: { counts: { 'gpt-4o': 6 }, others: 0 },
      },
      perDay: { '2026-04-01': 2, '2026-04-02': 2, '2026-04-03': 2 },
      tokens: 60,
      latencyMs: 600,
    });
  });

  it('carries on from a saved summary (the checkpoint), counting each event once', () => {
    const first = new SummaryAccumulator();
    first.add(record(0, 'a'));
    const saved = JSON.parse(JSON.stringify(first.summary()));
    const resumed = new SummaryAccumulator(saved);
    resumed.add(record(1, 'a'));
    expect(resumed.summary().breakdowns.team).toEqual({ counts: { a: 2 }, others: 0 });
    expect(resumed.summary().records).toBe(2);
  });

  it(`names at most ${MAX_ITEMISED_VALUES} values per breakdown and counts the rest together, so the job item stays small`, () => {
    const summary = new SummaryAccumulator(emptySummary());
    for (let n = 0; n < MAX_ITEMISED_VALUES + 25; n += 1) summary.add(record(n, `team-${n}`));
    summary.add(record(0, 'team-0'));
    const team = summary.summary().breakdowns.team;
    expect(Object.keys(team.counts)).toHaveLength(MAX_ITEMISED_VALUES);
    expect(team.counts['team-0']).toBe(2);
    expect(team.others).toBe(25);
    expect(Object.values(team.counts).reduce((a, b) => a + b, 0) + team.others).toBe(summary.summary().records);
  });
});

describe('PDF_MAX_DETAIL_ROWS', () => {
  it('defaults to 100,000 and takes a whole number', () => {
    expect(maxDetailRowsFrom({})).toBe(100_000);
    expect(maxDetailRowsFrom({ PDF_MAX_DETAIL_ROWS: '' })).toBe(100_000);
    expect(maxDetailRowsFrom({ PDF_MAX_DETAIL_ROWS: '250000' })).toBe(250_000);
    expect(maxDetailRowsFrom({ PDF_MAX_DETAIL_ROWS: '0' })).toBe(0);
  });

  it.each(['-1', '1.5', 'many', '1e5', ' 10'])('refuses %p, naming the setting', (value) => {
    expect(() => maxDetailRowsFrom({ PDF_MAX_DETAIL_ROWS: value })).toThrow(/PDF_MAX_DETAIL_ROWS/);
  });
});
