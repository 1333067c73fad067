/**
 * Runs a promise whose outcome nobody awaits, without swallowing a failure: a rejection is rethrown
 * outside the promise chain, where it surfaces as an uncaught exception. Use only for promises that
 * are not expected to reject (graceful closes).
 */
export function detach(promise: Promise<unknown>): void {
  promise.catch((thrown: unknown) => {
    queueMicrotask(() => {
      throw thrown
    })
  })
}
