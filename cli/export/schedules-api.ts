import type { ApiClient } from '../api/client.ts';
import { withFlagNames } from '../api/problems.ts';
import { ApiError } from '../errors.ts';
import type { ExportSelection } from './exports-api.ts';
import { type ExportJobView, readJobView } from './job-view.ts';

/**
 * The `/v1/export-schedules` routes, typed, with the fields the API rejects named by the
 * `kt export schedule` flags that set them. The CLI keeps its own copy of the view's shape (it
 * must read what a server of another version sends) and checks what it prints.
 */

export interface ScheduleView {
  readonly name: string;
  readonly cron: string;
  readonly expression: string;
  readonly timezone: string;
  readonly description: string;
  readonly window: string;
  readonly windowDescription: string;
  readonly format: string;
  readonly title?: string;
  readonly filters?: { readonly team?: string; readonly policy?: string };
  readonly delivery?: {
    readonly s3Bucket: string;
    readonly s3Prefix: string;
    readonly s3Region?: string;
    readonly location: string;
  };
  readonly state: string;
  readonly nextRun?: string;
  readonly lastRun?: { readonly scheduledAt: string; readonly exportId: string; readonly status?: string };
  readonly created: string;
  readonly updated: string;
}

export interface CreateScheduleBody extends ExportSelection {
  readonly name: string;
  readonly cron: string;
  readonly window: string;
  readonly timezone?: string;
}

export interface SchedulesApi {
  create(body: CreateScheduleBody): Promise<ScheduleView>;
  list(): Promise<readonly ScheduleView[]>;
  get(name: string): Promise<ScheduleView>;
  remove(name: string): Promise<ScheduleView>;
  pause(name: string): Promise<ScheduleView>;
  resume(name: string): Promise<ScheduleView>;
  /** The run's job, and whether this call created it (false: that scheduled time ran before). */
  run(name: string, at?: string): Promise<{ readonly job: ExportJobView; readonly created: boolean }>;
}

/** The API field → the `kt export schedule` flag that sets it. */
export const SCHEDULE_FLAG_FOR_FIELD: Readonly<Record<string, string>> = {
  name: '--name',
  cron: '--cron',
  window: '--window',
  timezone: '--timezone',
  format: '--format',
  title: '--title',
  'filters.team': '--filter-team',
  'filters.policy': '--filter-policy',
  'delivery.s3Bucket': '--s3-bucket',
  'delivery.s3Prefix': '--s3-prefix',
  'delivery.s3Region': '--s3-region',
  at: '--at',
};

export function schedulesApi(client: ApiClient): SchedulesApi {
  const path = (name: string) => `/v1/export-schedules/${encodeURIComponent(name)}`;
  return {
    async create(body) {
      const response = await withFlagNames(SCHEDULE_FLAG_FOR_FIELD, client.post('/v1/export-schedules', body));
      return readScheduleView(response.body, response.status);
    },
    async list() {
      const response = await client.get('/v1/export-schedules');
      const body = response.body as { schedules?: unknown } | null;
      if (body === null || typeof body !== 'object' || !Array.isArray(body.schedules)) {
        throw new ApiError('the API sent a schedule list the CLI cannot read (no "schedules" array)', response.status);
      }
      return body.schedules.map((view) => readScheduleView(view, response.status));
    },
    async get(name) {
      const response = await naming404(name, client.get(path(name)));
      return readScheduleView(response.body, response.status);
    },
    async remove(name) {
      const response = await naming404(name, client.delete(path(name)));
      return readScheduleView(response.body, response.status);
    },
    async pause(name) {
      // Pausing twice changes nothing, so a retried POST is safe.
      const response = await naming404(name, client.post(`${path(name)}/pause`, {}, { idempotent: true }));
      return readScheduleView(response.body, response.status);
    },
    async resume(name) {
      const response = await naming404(name, client.post(`${path(name)}/resume`, {}, { idempotent: true }));
      return readScheduleView(response.body, response.status);
    },
    async run(name, at) {
      // One job per (schedule, scheduled time): with --at a retried POST finds the same job. Without
      // it the server reads its own clock, and a retry a second later would be another run.
      const response = await withFlagNames(SCHEDULE_FLAG_FOR_FIELD, 
        naming404(
          name,
          client.post(`${path(name)}/run`, at === undefined ? {} : { at }, { idempotent: at !== undefined }),
        ),
      );
      return { job: readJobView(response.body, response.status), created: response.status === 202 };
    },
  };
}

function readScheduleView(body: unknown, status: number): ScheduleView {
  const view = body as Record<string, unknown> | null;
  const problem =
    view === null || typeof view !== 'object'
      ? 'not a JSON object'
      : (['name', 'cron', 'expression', 'timezone', 'description', 'window', 'windowDescription', 'format', 'state'].find(
          (field) => typeof view[field] !== 'string',
        ) ?? undefined);
  if (problem !== undefined) {
    throw new ApiError(
      `the API sent a schedule the CLI cannot read (${problem === 'not a JSON object' ? problem : `"${problem}" is missing`})`,
      status,
    );
  }
  return body as ScheduleView;
}

async function naming404<T>(name: string, request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    throw new ApiError(
      `schedule ${name} was not found (kt export schedule list shows the schedules)`,
      404,
      error.problem,
      { cause: error },
    );
  }
}
