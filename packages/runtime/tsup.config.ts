// The shared build: ESM + CJS + .d.ts (see tsup.base.ts at the root).
export { default } from '../../tsup.base'
