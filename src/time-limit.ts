// Every bound on time the action sets, set one way: a signal that aborts
// with a TimeoutError saying which bound it was. What is bounded (a cache
// call, a REST request, a docker process) stops when the signal aborts.

/** A bound on time was reached; the message says which, in plain words. */
export class TimeoutError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TimeoutError'
  }
}

/** A signal that aborts after `seconds` with a TimeoutError carrying `message`. */
export function timeLimit(seconds: number, message: string): AbortSignal {
  const controller = new AbortController()
  // Unreferenced: a limit must never be what keeps the step's process alive.
  setTimeout(() => controller.abort(new TimeoutError(message)), seconds * 1000).unref()
  return controller.signal
}

/** A time limit the user may set (restore-timeout, save-timeout): none when unset. */
export function hardLimit(seconds: number | undefined, message: string): AbortSignal | undefined {
  return seconds === undefined ? undefined : timeLimit(seconds, message)
}

/** Settles as the promise does, or rejects with the signal's reason once it aborts: a bound that holds whatever the work does with the signal. */
export async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  if (signal.aborted) throw signal.reason
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}
