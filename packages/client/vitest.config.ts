import { packageTestConfig } from '../../tools/config/vitest.preset'

export default packageTestConfig(import.meta.dirname)
