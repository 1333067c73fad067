import { readFile } from 'node:fs/promises'
import { ConfigError, toError } from '@socketcloud/core'
import { startNode } from '../assembly/node'
import {
  environmentLayer,
  fileLayer,
  resolveNodeConfig,
  type ConfigLayer,
  type NodeConfig,
} from '../config/node-config'
import { createLogger } from './logger'

export interface NodeFlags {
  readonly config?: string
  readonly dataDir?: string
  readonly listen?: string
  readonly advertise?: string
  readonly http?: string
  readonly peers?: string
  readonly join?: string
  readonly joinToken?: string
  readonly rootPublicKey?: string
  readonly logLevel?: string
}

/** Builds the configuration from file, environment and flags; every problem is reported at once. */
export async function loadNodeConfig(flags: NodeFlags, env: NodeJS.ProcessEnv): Promise<NodeConfig> {
  let file: ConfigLayer = {}
  if (flags.config !== undefined) {
    let text: string
    try {
      text = await readFile(flags.config, 'utf8')
    } catch (error) {
      throw new ConfigError(`cannot read the config file ${flags.config}: ${toError(error).message}`, {
        path: flags.config,
      })
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      throw new ConfigError(`${flags.config} is not valid JSON: ${toError(error).message}`, {
        path: flags.config,
      })
    }
    file = fileLayer(parsed, flags.config)
  }
  const { config: _path, ...settings } = flags
  return resolveNodeConfig(file, environmentLayer(env), settings)
}

/**
 * `socketcloud node`: runs one node until SIGTERM or SIGINT, then drains in-flight requests, hands
 * leadership over when leading, flushes and exits 0. A configuration error exits 2 with the reasons.
 */
export async function runNode(flags: NodeFlags): Promise<void> {
  let config: NodeConfig
  try {
    config = await loadNodeConfig(flags, process.env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`socketcloud node: ${error.message}\n`)
    process.exit(2)
  }
  const logger = createLogger(config.logLevel)
  let node
  try {
    node = await startNode(config, logger)
  } catch (error) {
    logger.fatal(
      { error: toError(error).message, code: (error as { code?: unknown }).code },
      'node failed to start',
    )
    process.stderr.write(`socketcloud node: could not start: ${toError(error).message}\n`)
    process.exit(1)
  }
  const running = node
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'shutting down')
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.fatal({ error: toError(error).message }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
}
