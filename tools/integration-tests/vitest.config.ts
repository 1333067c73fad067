import { packageTestConfig } from '../config/vitest.preset'

export default packageTestConfig(import.meta.dirname)
