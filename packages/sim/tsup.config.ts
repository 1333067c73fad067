import { libraryPreset } from '../../tools/config/tsup.preset'

// The compliance suites register tests through @vitest/runner, which must stay external: a bundled
// copy would register tests with a runner instance vitest never reads.
export default libraryPreset({ external: [/^@socketcloud\//, '@vitest/runner', 'vitest'] })
