export * from './signed-envelope'
export * from './replay-guard'
