import { isTerminal } from '../../functions/core/export/export-job.ts';
import type { ExportJobStore, WorkflowStarter } from '../../functions/core/ports.ts';

/**
 * Starts again every export the previous run of the local stack left queued or running (on AWS
 * the executions simply carry on). Each resumes from its saved checkpoint, so it writes what the
 * interrupted run would have written. Returns how many were started.
 */
export async function resumeUnfinishedExports(jobs: ExportJobStore, workflow: WorkflowStarter): Promise<number> {
  let resumed = 0;
  let cursor: string | undefined;
  do {
    const page = await jobs.listJobs({ limit: 100, ...(cursor === undefined ? {} : { cursor }) });
    for (const job of page.jobs) {
      // Stopped between Finalize and the outcome of its delivery: run Deliver again.
      if (job.status === 'completed' && job.delivery?.status === 'pending' && workflow.redeliverExport) {
        await workflow.redeliverExport(job.id, `${job.id}-redeliver-${Date.now()}`);
        continue;
      }
      if (isTerminal(job.status)) continue;
      await workflow.startExport(job.id);
      resumed += 1;
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  return resumed;
}
