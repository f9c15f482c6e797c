import { defineConfig } from 'tsup'
import base from '../../tsup.base'

// The shared build (ESM + CJS + .d.ts, see tsup.base.ts at the root), plus the `portcullis` bin.
// `defineConfig` widens the base to every form tsup accepts; narrow it rather than cast it, so a
// change of form in the base fails this build loudly instead of dropping its settings.
if (typeof base === 'function' || Array.isArray(base)) {
  throw new TypeError('tsup.base.ts must export a single options object')
}

export default defineConfig({ ...base, entry: ['src/index.ts', 'src/cli/cli.ts'] })
