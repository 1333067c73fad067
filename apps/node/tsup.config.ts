import { libraryPreset } from '../../tools/config/tsup.preset'

export default libraryPreset({ entry: { index: 'src/index.ts', cli: 'src/cli.ts' } })
