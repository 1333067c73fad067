import { toError } from './errors'

type Listener<T> = (event: T) => void

/**
 * A minimal typed event emitter that runs anywhere (no `node:events`), used by transports, drivers
 * and detectors. A listener that throws does not stop the others; its error goes to `onListenerError`
 * (by default rethrown asynchronously via `queueMicrotask`, so it is never swallowed).
 */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>()
  private readonly onListenerError: (error: Error, event: keyof Events) => void

  constructor(onListenerError?: (error: Error, event: keyof Events) => void) {
    this.onListenerError =
      onListenerError ??
      ((error) =>
        queueMicrotask(() => {
          throw error
        }))
  }

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event)
    if (!set) {
      set = new Set()
      this.listeners.set(event, set)
    }
    set.add(listener as Listener<never>)
    return () => this.off(event, listener)
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (value) => {
      off()
      listener(value)
    })
    return off
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>)
  }

  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const set = this.listeners.get(event)
    if (!set || set.size === 0) return
    for (const listener of [...set]) {
      try {
        ;(listener as Listener<Events[K]>)(value)
      } catch (thrown) {
        this.onListenerError(toError(thrown), event)
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0
  }

  removeAllListeners(): void {
    this.listeners.clear()
  }
}
