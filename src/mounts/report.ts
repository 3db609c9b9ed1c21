/** What became of one cache mount in this run: for the job summary and the outputs. */
export interface MountReport {
  id: string
  /** Bytes of the archive copied into the builder; unset: nothing restored. */
  restoredBytes?: number
  restoreSeconds?: number
  /** Why nothing was restored, when something could have been. */
  restoreNote?: string
  /** Bytes of the archive exported for the save; unset: nothing exported. */
  savedBytes?: number
  saveSeconds?: number
  /** Why it is not saved, when the run saves. */
  saveNote?: string
}

/** The `cache-mounts-restored` output: mounts restored out of the mounts the build uses, as N/M. */
export function restoredCount(reports: MountReport[]): string {
  return `${reports.filter(r => r.restoredBytes !== undefined).length}/${reports.length}`
}
