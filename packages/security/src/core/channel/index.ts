export * from './identity-payload'
export * from './noise-session'
export * from './secure-handshake'
