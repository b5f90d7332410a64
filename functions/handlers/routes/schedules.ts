import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { jobView } from '../../core/export/export-job.ts';
import {
  createSchedule,
  deleteSchedule,
  getSchedule,
  listSchedules,
  runScheduleNow,
  setScheduleState,
} from '../../core/schedules/schedule-operations.ts';
import { scheduleOperationDeps } from '../../adapters/composition-root.ts';
import { jsonBodyOf, jsonResponse, noFieldsBodyOf } from '../http/json.ts';
import { principalOf } from '../http/principal.ts';

/** POST /v1/export-schedules: 201 with the schedule. */
export async function postSchedule(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const principal = principalOf(event);
  return jsonResponse(201, await createSchedule(scheduleOperationDeps(), jsonBodyOf(event), principal));
}

/** GET /v1/export-schedules */
export async function getSchedules(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  return jsonResponse(
    200,
    await listSchedules(scheduleOperationDeps(), principalOf(event), event.queryStringParameters ?? {}),
  );
}

/** GET /v1/export-schedules/{name} */
export async function getScheduleByName(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  return jsonResponse(200, await getSchedule(scheduleOperationDeps(), nameOf(event), principalOf(event)));
}

/** DELETE /v1/export-schedules/{name}: the runs it made stay, as ordinary export jobs. */
export async function deleteScheduleByName(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  return jsonResponse(200, await deleteSchedule(scheduleOperationDeps(), nameOf(event), principalOf(event)));
}

/** POST /v1/export-schedules/{name}/pause */
export async function pauseSchedule(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const principal = principalOf(event);
  noFieldsBodyOf(event);
  return jsonResponse(200, await setScheduleState(scheduleOperationDeps(), nameOf(event), 'paused', principal));
}

/** POST /v1/export-schedules/{name}/resume */
export async function resumeSchedule(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const principal = principalOf(event);
  noFieldsBodyOf(event);
  return jsonResponse(200, await setScheduleState(scheduleOperationDeps(), nameOf(event), 'enabled', principal));
}

/**
 * POST /v1/export-schedules/{name}/run `{at?}`: 202 with the run's job, or 200 with the same job
 * when that scheduled time has run before.
 */
export async function runSchedule(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const principal = principalOf(event);
  const body = event.body === undefined || event.body === '' ? {} : jsonBodyOf(event);
  const { job, created } = await runScheduleNow(scheduleOperationDeps(), nameOf(event), body, principal);
  return jsonResponse(created ? 202 : 200, jobView(job));
}

function nameOf(event: APIGatewayProxyEventV2): string {
  // Schedule names need no escaping (letters, digits, _ . -); anything else names no schedule.
  return event.pathParameters?.name ?? '';
}
