import { pino, type Logger as PinoLogger } from 'pino'
import type { LogLevel } from '../config/node-config'

/** Structured JSON logs on stdout, one line per event (pino). */
export function createLogger(level: LogLevel): PinoLogger {
  return pino({ level, base: { pid: process.pid } })
}
