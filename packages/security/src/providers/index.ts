import { createNativeCryptoProvider } from './native'
import type { CryptoProvider } from './provider'

export * from './provider'
export { createNativeCryptoProvider } from './native'
export { createPortableCryptoProvider } from './portable'

let defaultProvider: CryptoProvider | undefined

/** The native provider, created once. Pass a provider explicitly to choose another. */
export function defaultCryptoProvider(): CryptoProvider {
  defaultProvider ??= createNativeCryptoProvider()
  return defaultProvider
}
