export * from './pattern'
export * from './token'
export * from './verify'
