/** A group of sources `pnpm test:mutation` mutates, and the tests that exercise them. */
export interface MutationGroup {
  readonly mutate: string[]
  readonly tests: string[]
}
export declare const groups: Record<string, MutationGroup>
export declare function selectedGroups(): MutationGroup[]
