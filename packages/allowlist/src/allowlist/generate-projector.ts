import {
  cycleError,
  projectResolved,
  projectValue,
  REMOVED,
  tooManyItemsError,
  type Walk,
} from './project-value.js'
import type { ProjectionNode } from './trie.js'

/** A compiled projection of one trie: the body in, the projected body (or `REMOVED`) out. */
export type Projector = (body: unknown, walk: Walk) => unknown

function isScalarLeaf(node: ProjectionNode): boolean {
  return node.scalars && !node.objectLike && node.items === null
}

// Some runtimes refuse code generation (--disallow-code-generation-from-strings, a CSP);
// projections then run on the interpreter in project-value.ts, which gives the same results.
let codegenAvailable: boolean | undefined

function canGenerate(): boolean {
  if (codegenAvailable === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-implied-eval -- a probe, no input
      codegenAvailable = (new Function('return true') as () => unknown)() === true
    } catch {
      codegenAvailable = false
    }
  }
  return codegenAvailable
}

/**
 * The interpreter as a projector: every node walked by `projectValue`. Used for audits
 * (reject mode, `collectRemoved`) and where code generation is unavailable.
 */
export function interpretedProjector(root: ProjectionNode): Projector {
  return function interpretProjection(body, walk) {
    return projectValue(root, body, '', 0, walk)
  }
}

/**
 * Compiles a trie into straight-line JavaScript, once, for the strip path: each object node
 * becomes a function that reads its declared keys by constant name into a fresh object, so
 * property loads and stores stay monomorphic per path, as in fast-json-stringify. Only the
 * common cases are generated (plain objects, arrays, scalars); anything else at a node (a
 * `toJSON`, a class instance, a boxed primitive, a `*` object) is handed to the interpreter
 * for that node, so both agree by construction.
 *
 * Nothing from a response reaches the generated source: keys come from the allowlist and are
 * embedded as JSON string literals; nodes and helpers are passed in as parameters.
 */
export function generateProjector(root: ProjectionNode): Projector {
  if (!canGenerate()) return interpretedProjector(root)
  const nodes: ProjectionNode[] = []
  const functions: string[] = []

  function nodeIndex(node: ProjectionNode): number {
    nodes.push(node)
    return nodes.length - 1
  }

  // Emits code that projects `value` (an expression already read, at depth `depth`) onto
  // `child`, and hands the result to `accept` (a statement template taking the result).
  function emitChild(
    child: ProjectionNode,
    value: string,
    key: string,
    depth: string,
    accept: (result: string) => string,
  ): string {
    if (isScalarLeaf(child)) {
      const n = nodeIndex(child)
      return [
        `r = ${value};`,
        `if (typeof r === 'string' || typeof r === 'number' || typeof r === 'boolean') { ${accept('r')} }`,
        `else if (r !== undefined) { r = P(N[${n}], r, ${key}, ${depth}, w); if (r !== undefined && r !== R) { ${accept('r')} } }`,
      ].join('\n')
    }
    const f = emitNode(child)
    return `r = f${f}(${value}, ${key}, ${depth}, w); if (r !== undefined && r !== R) { ${accept('r')} }`
  }

  // One function per container node; returns its number.
  function emitNode(node: ProjectionNode): number {
    const n = nodeIndex(node)
    const id = functions.length
    functions.push('')
    const body: string[] = [
      `function f${id}(v, k, d, w) {`,
      // Scalars, null, functions, BigInts: the interpreter. A toJSON is read once and its
      // result projected by the interpreter, as are class instances and boxed primitives.
      `if (typeof v !== 'object' || v === null) return P(N[${n}], v, k, d, w);`,
      'const t = v.toJSON;',
      `if (typeof t === 'function') return Q(N[${n}], t.call(v, typeof k === 'number' ? '' + k : k), d, w);`,
    ]
    if (node.items !== null) {
      const items = node.items
      body.push('if (A(v)) {', 'const length = v.length;')
      if (Number.isFinite(node.cap))
        body.push(`if (length > ${node.cap}) throw T(N[${n}], length);`)
      body.push(
        'const s = w.stack;',
        `for (let i = 0; i < d; i++) if (s[i] === v) throw C(N[${n}]);`,
        's[d] = v;',
        'const a = []; let r;',
        'for (let i = 0; i < length; i++) {',
        // A hole reads through to the prototype; only own elements are serialized.
        'if (!H(v, i)) { a.push(null); continue; }',
        emitChild(items, 'v[i]', 'i', 'd + 1', (result) => `a.push(${result}); continue;`),
        'a.push(null);',
        '}',
        'return a;',
        '}',
      )
    } else {
      body.push(`if (A(v)) return Q(N[${n}], v, d, w);`)
    }
    if (node.objectLike && node.star === null) {
      body.push(
        'const p = G(v);',
        `if (p !== OP && p !== null) return Q(N[${n}], v, d, w);`,
        'const s = w.stack;',
        `for (let i = 0; i < d; i++) if (s[i] === v) throw C(N[${n}]);`,
        's[d] = v;',
        'const o = {}; let r;',
      )
      node.keys.forEach((key, i) => {
        const literal = JSON.stringify(key)
        body.push(
          // Own only: never an inherited (or polluted) value. Plain objects only reach here; see
          // projectObject for why own suffices for them.
          `if (H(v, ${literal})) {`,
          emitChild(
            node.children[i]!,
            `v[${literal}]`,
            literal,
            'd + 1',
            (result) => `o[${literal}] = ${result};`,
          ),
          '}',
        )
      })
      body.push('return o;')
    } else {
      body.push(`return Q(N[${n}], v, d, w);`)
    }
    body.push('}')
    functions[id] = body.join('\n')
    return id
  }

  const rootId = emitNode(root)
  const source = `'use strict';\n${functions.join('\n')}\nreturn function project(body, w) { return f${rootId}(body, '', 0, w); };`
  // Parameters, not globals, so user code cannot swap them: the interpreter (before and after
  // toJSON), the REMOVED sentinel, the built-ins the checks use, the error builders, and the
  // nodes (for the interpreter and error messages).
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- see the TSDoc: no response data
  const factory = new Function('P', 'Q', 'R', 'H', 'A', 'G', 'OP', 'C', 'T', 'N', source) as (
    ...args: unknown[]
  ) => Projector
  return factory(
    projectValue,
    projectResolved,
    REMOVED,
    Object.hasOwn,
    Array.isArray,
    Object.getPrototypeOf,
    Object.prototype,
    cycleError,
    tooManyItemsError,
    nodes,
  )
}
