import type { InventoryEntry } from '@portcullis/fastify'
import { renderTable } from './table.js'
import type { TourStep } from './tour.js'

/** The route inventory as the demo prints it: one row per route (HEAD rows folded into GET). */
export function inventoryTable(routes: readonly InventoryEntry[]): string {
  return renderTable(
    [
      { header: 'route', weight: 3 },
      { header: 'requires', weight: 4 },
      { header: 'rate limit', weight: 2 },
      { header: 'response', weight: 4 },
    ],
    routes
      .filter((r) => r.method !== 'HEAD')
      .map((r) => [
        `${r.method} ${r.url}`,
        r.public === null ? (r.policy ?? '-') : `public: ${r.public}`,
        r.rateLimit ?? '-',
        r.response ?? '-',
      ]),
  )
}

/**
 * The tour as the demo prints it: each attempt with, side by side, what the service answered
 * without Portcullis (before: what leaked) and with it (after).
 */
export function tourTable(steps: readonly TourStep[]): string {
  return renderTable(
    [
      { header: 'attempt', weight: 4 },
      { header: 'before: no guard', weight: 4 },
      { header: 'after: Portcullis', weight: 3 },
      { header: 'ok' },
    ],
    steps.map((s) => [
      `${s.attempt}\n${s.request}`,
      s.before?.note ?? '-',
      [`${s.status}${s.code === '' ? '' : ` ${s.code}`}`, s.note]
        .filter((t) => t !== '')
        .join('\n'),
      s.ok ? 'yes' : 'NO',
    ]),
  )
}
