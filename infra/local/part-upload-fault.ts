import { DependencyError } from '../../functions/core/errors.ts';
import type { ArtifactStore } from '../../functions/core/ports.ts';
import type { PartUploadFault } from './local-config.ts';

/** The store with its part uploads going through `uploadPart`; every other call goes to `store`. */
export function withUploadPart(store: ArtifactStore, uploadPart: ArtifactStore['uploadPart']): ArtifactStore {
  return {
    startUpload: (key, contentType) => store.startUpload(key, contentType),
    uploadPart,
    completeUpload: (key, uploadId, parts) => store.completeUpload(key, uploadId, parts),
    abortUpload: (key, uploadId) => store.abortUpload(key, uploadId),
    artifactSize: (key) => store.artifactSize(key),
    downloadUrl: (key, options) => store.downloadUrl(key, options),
    deleteArtifact: (key) => store.deleteArtifact(key),
    openUploads: (prefix) => store.openUploads(prefix),
    putDocument: (key, body, contentType) => store.putDocument(key, body, contentType),
    getDocument: (key) => store.getDocument(key),
  };
}

/**
 * The artifact store with part uploads that fail on purpose, for trying the workflow's failure
 * handling on the local stack (never used on AWS). The error is a DependencyError, what a real S3
 * outage gives, so the state machine retries it like one.
 */
export function withPartUploadFault(store: ArtifactStore, fault: PartUploadFault): ArtifactStore {
  let uploaded = 0;
  let failed = 0;
  return withUploadPart(store, async (key, uploadId, partNumber, body) => {
    if (uploaded >= fault.afterParts && (fault.times === undefined || failed < fault.times)) {
      failed += 1;
      throw new DependencyError(
        `Injected failure (KT_FAULT_AFTER_PARTS=${fault.afterParts}): uploading part ${partNumber} was refused.`,
      );
    }
    const etag = await store.uploadPart(key, uploadId, partNumber, body);
    uploaded += 1;
    return etag;
  });
}
