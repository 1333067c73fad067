/**
 * Structured logging. pino's `Logger` satisfies this interface, so the node app passes a pino
 * instance and libraries log through it; tests pass `noopLogger` or a recording logger.
 */
export interface LogFn {
  (message: string): void
  (bindings: Record<string, unknown>, message?: string): void
}

export interface Logger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  child(bindings: Record<string, unknown>): Logger
}

const ignore: LogFn = () => undefined
export const noopLogger: Logger = {
  trace: ignore,
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
  child: () => noopLogger,
}
