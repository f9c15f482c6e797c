// The file groups that `pnpm test:mutation` mutates, each with the tests that exercise it.
// `PORTCULLIS_MUTATE=<group>[,<group>]` narrows a run to some groups (both stryker.config.mjs and
// test/mutation/vitest.config.ts read it); without it every group runs. The test lists are the
// unit tests of each area plus the adapter suites that decide through it, so each mutant run is
// short: nothing here needs a build, Redis is started by the tests that need it.

/** @type {Record<string, { mutate: string[], tests: string[] }>} */
export const groups = {
  // Token verification.
  verifier: {
    mutate: [
      'packages/tokens/src/verifier/create-verifier.ts',
      'packages/tokens/src/verifier/jws.ts',
    ],
    // The introspector's suite: opaque tokens take the verifier's introspection branch.
    tests: [
      'packages/tokens/src/verifier/**/*.test.ts',
      'packages/tokens/src/introspection/introspector.test.ts',
    ],
  },
  // Sender checks: DPoP proofs, certificate-bound tokens.
  sender: {
    mutate: [
      'packages/tokens/src/dpop/htu.ts',
      'packages/tokens/src/dpop/nonce.ts',
      'packages/tokens/src/dpop/replay-cache.ts',
      'packages/tokens/src/dpop/verify-proof.ts',
      'packages/tokens/src/sender/*.ts',
    ],
    tests: [
      'packages/tokens/src/dpop/**/*.test.ts',
      'packages/tokens/src/sender/**/*.test.ts',
      'test/sender/**/*.test.ts',
      'test/fastify/dpop.test.ts',
      'test/fastify/mtls.test.ts',
      'test/express/dpop.test.ts',
      'test/express/mtls.test.ts',
    ],
  },
  // The guard compiler and evaluator.
  policy: {
    mutate: [
      'packages/policy/src/guard/compile-guard.ts',
      'packages/policy/src/guard/decide-guard.ts',
      'packages/policy/src/guard/evaluate-guard.ts',
      'packages/policy/src/guard/named-policies.ts',
      'packages/policy/src/guard/normalized-guard.ts',
    ],
    tests: [
      'packages/policy/src/guard/**/*.test.ts',
      'test/fastify/policy.test.ts',
      'test/fastify/deny-by-default.test.ts',
      'test/express/access.test.ts',
    ],
  },
  // The response projection.
  allowlist: {
    mutate: [
      'packages/allowlist/src/allowlist/compile-allowlist.ts',
      'packages/allowlist/src/allowlist/generate-projector.ts',
      'packages/allowlist/src/allowlist/project-value.ts',
      'packages/allowlist/src/allowlist/serialized-body.ts',
      'packages/allowlist/src/allowlist/trie.ts',
    ],
    tests: ['packages/allowlist/src/allowlist/**/*.test.ts', 'test/allowlist/**/*.test.ts'],
  },
  // The counters.
  'rate-limit': {
    mutate: [
      'packages/rate-limit/src/store/*-counter.ts',
      'packages/rate-limit/src/store/limiter-store.ts',
      'packages/rate-limit/src/limiter/*.ts',
      'packages/rate-limit/src/runtime/*.ts',
      'packages/rate-limit/src/lib/time-window.ts',
      'packages/rate-limit/src/pre-auth/create-pre-auth-limiter.ts',
    ],
    tests: [
      'packages/rate-limit/src/**/*.test.ts',
      'test/rate-limit/**/*.test.ts',
      'test/express/rate-limit.test.ts',
      // The rate-limit step's span (route-limiter.ts).
      'test/telemetry/telemetry.test.ts',
    ],
  },
  // The framework-free runtime both adapters answer through.
  // Every adapter test runs through these files, so each suite listed reruns for almost every
  // mutant: the unit tests of the steps, the Redis gate and the answers, the runtime package's
  // own, and one adapter suite each (the other suites repeat the same paths).
  runtime: {
    mutate: ['packages/core/src/runtime/*.ts'],
    tests: [
      'packages/core/src/runtime/**/*.test.ts',
      'packages/runtime/src/**/*.test.ts',
      'test/fastify/deny-by-default.test.ts',
      'test/express/access.test.ts',
      'test/express/responses.test.ts',
    ],
  },
  // Egress budgets, enumeration limits and lockouts.
  egress: {
    mutate: ['packages/rate-limit/src/egress/*.ts'],
    tests: [
      'packages/rate-limit/src/egress/**/*.test.ts',
      'test/rate-limit/egress.test.ts',
      'test/rate-limit/egress-redis.test.ts',
      'test/express/egress.test.ts',
    ],
  },
  // Request body allowlists and the response rules' runtime.
  body: {
    mutate: [
      'packages/allowlist/src/body/*.ts',
      'packages/allowlist/src/runtime/body-rules.ts',
      'packages/allowlist/src/runtime/response-rules.ts',
    ],
    tests: [
      'packages/allowlist/src/body/**/*.test.ts',
      'packages/allowlist/src/runtime/**/*.test.ts',
      'test/fastify/body.test.ts',
      'test/express/body.test.ts',
      'test/allowlist/**/*.test.ts',
      'test/express/responses.test.ts',
      // Egress budgets are charged by the response rules (meters), on both adapters.
      'test/express/egress.test.ts',
      'test/rate-limit/egress.test.ts',
      // The projection's span and the removed-fields metric (response-rules.ts).
      'test/telemetry/telemetry.test.ts',
    ],
  },
  // The response hold: Express's response methods held to the route's rules. Most of its mutants
  // leave a response hanging, so the group runs the suites that reach it and no more.
  hold: {
    mutate: ['packages/allowlist/src/runtime/response-hold.ts'],
    tests: [
      'packages/allowlist/src/runtime/response-hold.test.ts',
      'test/express/responses.test.ts',
      'test/express/bypass.test.ts',
      'test/express/seal.test.ts',
    ],
  },
  // The runtime package (the composition the Express adapter translates) and the authentication
  // step.
  adapter: {
    mutate: ['packages/runtime/src/*.ts', 'packages/tokens/src/runtime/*.ts'],
    // The Express suites that reach each file (options, credentials, bodies, sealing, the
    // inventory, egress plans, resource metadata), the Fastify token suite (the same
    // authentication step) and the pre-auth limiter's.
    tests: [
      'packages/runtime/src/**/*.test.ts',
      'packages/tokens/src/runtime/**/*.test.ts',
      'test/express/access.test.ts',
      'test/express/tokens.test.ts',
      'test/express/bypass.test.ts',
      'test/express/body.test.ts',
      'test/express/seal.test.ts',
      'test/express/register.test.ts',
      'test/express/egress.test.ts',
      'test/express/dpop.test.ts',
      'test/express/resource-metadata.test.ts',
      'test/fastify/tokens.test.ts',
      'test/rate-limit/pre-auth.test.ts',
    ],
  },
}

/** The groups a run covers, from `PORTCULLIS_MUTATE`. */
export function selectedGroups() {
  const wanted = process.env.PORTCULLIS_MUTATE?.split(',').filter(Boolean) ?? Object.keys(groups)
  for (const name of wanted) {
    if (!(name in groups)) {
      throw new Error(
        `PORTCULLIS_MUTATE: unknown group "${name}" (known: ${Object.keys(groups).join(', ')})`,
      )
    }
  }
  return wanted.map((name) => groups[name])
}
