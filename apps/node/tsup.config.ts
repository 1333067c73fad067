import { libraryPreset } from '../../tools/config/tsup.preset'

// Code splitting keeps the CLI's client commands from loading the node (every protocol package).
export default libraryPreset({ entry: { index: 'src/index.ts', cli: 'src/cli.ts' }, splitting: true })
