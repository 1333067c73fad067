import { describe, expect, it } from 'vitest'
import { Emitter } from './emitter'

describe('Emitter', () => {
  it('delivers to every listener, supports unsubscribe and once', () => {
    const emitter = new Emitter<{ tick: number }>()
    const seen: number[] = []
    const off = emitter.on('tick', (n) => seen.push(n))
    emitter.once('tick', (n) => seen.push(n * 100))
    emitter.emit('tick', 1)
    off()
    emitter.emit('tick', 2)
    expect(seen).toEqual([1, 100])
  })

  it('keeps delivering when one listener throws, and reports the error', () => {
    const errors: Error[] = []
    const emitter = new Emitter<{ tick: number }>((error) => errors.push(error))
    const seen: number[] = []
    emitter.on('tick', () => {
      throw new Error('boom')
    })
    emitter.on('tick', (n) => seen.push(n))
    emitter.emit('tick', 5)
    expect(seen).toEqual([5])
    expect(errors.map((error) => error.message)).toEqual(['boom'])
  })
})
