import { libraryPreset } from '../../tools/config/tsup.preset'

export default libraryPreset()
