import { libraryPreset } from '../../tools/config/tsup.preset'

export default libraryPreset({ entry: ['src/index.ts', 'src/testing.ts'] })
