// Optimal string alignment distance (Levenshtein plus adjacent transpositions), so that the
// typos people make (`scopez`, `pubilc`, `titel`) are one or two edits from the intended name.
function editDistance(a: string, b: string): number {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: number[] = new Array<number>(rows * cols)
  for (let i = 0; i < rows; i++) d[i * cols] = i
  for (let j = 0; j < cols; j++) d[j] = j
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(
        d[(i - 1) * cols + j]! + 1,
        d[i * cols + j - 1]! + 1,
        d[(i - 1) * cols + j - 1]! + cost,
      )
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[(i - 2) * cols + j - 2]! + 1)
      }
      d[i * cols + j] = best
    }
  }
  return d[rows * cols - 1]!
}

/**
 * The candidate a misspelled `name` most likely meant: the closest by edit distance, ignoring
 * case, when it is close enough to be a typo (one edit for short names, two from five
 * characters, three from nine); `undefined` otherwise. Ties go to the first candidate.
 *
 * @example
 * ```ts
 * closestName('scopez', ['public', 'scopes', 'callers']) // 'scopes'
 * closestName('roles', ['public', 'scopes', 'callers']) // undefined
 * ```
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const wanted = name.toLowerCase()
  const allowed = wanted.length < 5 ? 1 : wanted.length < 9 ? 2 : 3
  let best: string | undefined
  let bestDistance = allowed + 1
  for (const candidate of candidates) {
    if (candidate === name) continue
    const distance = editDistance(wanted, candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}
