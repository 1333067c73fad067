import { connect } from 'node:net'
import WebSocket from 'ws'

export interface JsonAnswer {
  readonly status: number
  readonly headers: Headers
  readonly body: Record<string, unknown>
}

/** A request with a JSON answer (every answer of the API is JSON except a kv value and /metrics). */
export async function call(
  base: string,
  method: string,
  path: string,
  init: { body?: unknown; raw?: Uint8Array | string; headers?: Record<string, string> } = {},
): Promise<JsonAnswer> {
  const headers: Record<string, string> = { ...init.headers }
  let body: Uint8Array | string | undefined = init.raw
  if (init.body !== undefined) {
    body = JSON.stringify(init.body)
    headers['content-type'] = 'application/json'
  }
  const response = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) })
  const text = await response.text()
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new Error(`${method} ${path} answered ${response.status} with non-JSON: ${text.slice(0, 200)}`)
  }
  return { status: response.status, headers: response.headers, body: parsed }
}

/** Only the status of a request (for answers that are not JSON, such as a key's raw value). */
export async function statusOf(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const response = await fetch(base + path, { method, headers })
  await response.arrayBuffer()
  return response.status
}

/** Sends raw bytes on a fresh TCP connection and resolves with what the server answered before closing. */
export function rawExchange(port: number, chunks: readonly (string | Uint8Array)[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    socket.on('data', (data) => {
      answer += data.toString('latin1')
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may close while we are still writing the refused body; what it answered counts.
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') resolve(answer)
      else reject(error)
    })
    socket.on('close', () => resolve(answer))
    socket.on('connect', () => {
      for (const chunk of chunks) {
        if (socket.destroyed || socket.writableEnded) break
        socket.write(chunk)
      }
    })
    socket.setTimeout(10_000, () => socket.destroy())
  })
}

/** A WebSocket watch that records every frame and the close code. */
export class WatchClient {
  readonly frames: Array<Record<string, unknown>> = []
  closeCode: number | null = null
  readonly opened: Promise<void>
  private readonly socket: WebSocket

  constructor(url: string, headers: Record<string, string> = {}) {
    this.socket = new WebSocket(url, { headers })
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve())
      this.socket.once('unexpected-response', (_request, response) =>
        reject(new Error(`upgrade refused with ${response.statusCode}`)),
      )
      this.socket.once('error', reject)
    })
    this.socket.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Record<string, unknown>))
    this.socket.on('close', (code) => {
      this.closeCode = code
    })
  }

  /** Refused upgrades: the HTTP status the server answered instead. */
  static refusal(url: string, headers: Record<string, string> = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers })
      socket.once('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0)
        socket.terminate()
      })
      socket.once('open', () => {
        socket.close()
        reject(new Error('the upgrade was accepted'))
      })
      socket.once('error', () => undefined)
    })
  }

  events(): Array<Record<string, unknown>> {
    return this.frames.filter((frame) => frame['type'] === 'put' || frame['type'] === 'delete')
  }

  close(): void {
    this.socket.close()
  }
}
