import { createWriteStream } from 'node:fs';
import { renderReport } from '../functions/core/export/report/render-report.ts';
import { SummaryAccumulator } from '../functions/core/export/report/report-summary.ts';
import { loadReportFonts } from '../functions/adapters/fonts/report-fonts.ts';
const n = Number(process.argv[2] ?? 300);
const teams = ['platform', 'データ分析チーム', 'Équipe Sécurité', 'Команда', 'فريق البيانات', 'צוות', 'team 🚀', '한국팀'];
const recs = Array.from({ length: n }, (_, i) => ({
  id: `evt_${String(i).padStart(8, '0')}_${'x'.repeat(i === 3 ? 200 : 4)}`,
  timestamp: `2026-04-${String(1 + (i % 23)).padStart(2, '0')}T09:15:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z`,
  model: ['gpt-4o', 'claude-3-5-sonnet', 'gemini-1.5-pro'][i % 3], policy: ['pii-redaction', 'prompt-injection', 'cost-guard'][i % 3],
  action: ['redact', 'block', 'allow'][i % 3], result: ['allowed', 'blocked', 'modified'][i % 3], tokens: (i * 37) % 5000, latency_ms: (i * 13) % 900,
  team: i === 5 ? 'ctl\u0007\nchars' : teams[i % teams.length],
}));
recs.sort((a, b) => (a.timestamp < b.timestamp ? -1 : 1));
const acc = new SummaryAccumulator(); for (const r of recs) acc.add(r);
async function* events() { for (const r of recs) yield r; }
const out = createWriteStream('/tmp/pdftry/out.pdf');
const t0 = performance.now();
const result = await renderReport({ exportId: 'exp_01jsample0000000000', title: process.argv[3] ?? 'Q2 2026 AI Compliance Report', range: { from: '2026-04-01T00:00:00Z', to: '2026-04-23T23:59:59Z' }, filters: {},
  generatedAt: '2026-04-24T08:00:00.000Z', summary: acc.summary(), recordsDigest: 'a'.repeat(64), companion: { name: 'exp_01jsample0000000000.csv', bytes: 123456, sha256: 'b'.repeat(64) },
  pageSize: (process.argv[4] as 'a4') ?? 'a4', maxDetailRows: Number(process.argv[5] ?? 100000), events: events(), fonts: await loadReportFonts(),
  write: (c) => new Promise((res) => out.write(c, () => res())) });
out.end();
console.log(result, ((performance.now() - t0) / 1000).toFixed(2), 's', process.resourceUsage().maxRSS / 1024, 'MB');
