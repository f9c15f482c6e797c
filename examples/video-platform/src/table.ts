/** One column of a {@link renderTable} table. */
export interface Column {
  readonly header: string
  /** A share of the width left once borders are drawn (default 1). */
  readonly weight?: number
}

/** The terminal width the demo's tables fit: the narrowest common terminal. */
export const TERMINAL_COLUMNS = 100

/** Columns a string takes in a terminal: one per code point (the demo prints no wide glyphs). */
export function columnsOf(text: string): number {
  return [...text].length
}

/** Splits `text` into lines of at most `width` columns, at spaces where it can, on `\n` always. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  for (const paragraph of text.split('\n')) {
    let line = ''
    for (const word of paragraph.split(' ')) {
      let rest = [...word]
      const joined = line === '' ? rest.length : columnsOf(line) + 1 + rest.length
      if (joined <= width) {
        line = line === '' ? word : `${line} ${word}`
        continue
      }
      if (line !== '') lines.push(line)
      line = ''
      // A word longer than the column is cut.
      while (rest.length > width) {
        lines.push(rest.slice(0, width).join(''))
        rest = rest.slice(width)
      }
      line = rest.join('')
    }
    lines.push(line)
  }
  return lines
}

/**
 * Draws a table with box-drawing borders, wrapping each cell so that no line is wider than
 * `width` columns: a column gets its content's width when everything fits, otherwise its share
 * (`weight`) of the room left.
 */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
  width = TERMINAL_COLUMNS,
): string {
  // '│ ' before each column, ' ' after it, and the closing '│'.
  const room = width - 3 * columns.length - 1
  const natural = columns.map((column, i) =>
    Math.max(
      columnsOf(column.header),
      ...rows.flatMap((row) => (row[i] ?? '').split('\n').map(columnsOf)),
    ),
  )
  let widths = [...natural]
  if (natural.reduce((a, b) => a + b, 0) > room) {
    const total = columns.reduce((sum, column) => sum + (column.weight ?? 1), 0)
    // Narrow columns keep their width; the others share what is left by weight.
    const shares = columns.map((column) => Math.floor((room * (column.weight ?? 1)) / total))
    const fixed = natural.map((w, i) => (w <= shares[i]! ? w : 0))
    const spare = room - fixed.reduce((a, b) => a + b, 0)
    const flexible = columns.reduce(
      (sum, column, i) => sum + (fixed[i] === 0 ? (column.weight ?? 1) : 0),
      0,
    )
    widths = natural.map((w, i) =>
      fixed[i] !== 0 ? w : Math.max(4, Math.floor((spare * (columns[i]!.weight ?? 1)) / flexible)),
    )
    // What rounding left over goes to the first flexible column: the table fills the width.
    const left = room - widths.reduce((a, b) => a + b, 0)
    const first = fixed.findIndex((w) => w === 0)
    if (left > 0 && first >= 0) widths[first]! += left
  }
  const rule = (left: string, middle: string, right: string) =>
    `${left}${widths.map((w) => '─'.repeat(w + 2)).join(middle)}${right}`
  const draw = (cells: readonly string[]) => {
    const wrapped = widths.map((w, i) => wrap(cells[i] ?? '', w))
    const height = Math.max(...wrapped.map((lines) => lines.length))
    const out: string[] = []
    for (let line = 0; line < height; line++) {
      const parts = wrapped.map((lines, i) => {
        const text = lines[line] ?? ''
        return `${text}${' '.repeat(widths[i]! - columnsOf(text))}`
      })
      out.push(`│ ${parts.join(' │ ')} │`)
    }
    return out
  }
  const body = rows.flatMap((row, i) => [...(i === 0 ? [] : [rule('├', '┼', '┤')]), ...draw(row)])
  return [
    rule('┌', '┬', '┐'),
    ...draw(columns.map((column) => column.header)),
    rule('╞', '╪', '╡').replaceAll('─', '═'),
    ...body,
    rule('└', '┴', '┘'),
  ].join('\n')
}
