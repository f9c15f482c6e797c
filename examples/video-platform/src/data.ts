/** One video's metadata, as the database returns it: whole rows, internal fields included. */
export interface VideoRow {
  id: string
  title: string
  durationSec: number
  owner: { id: string; email: string }
  tags: string[]
  uploadIp: string
  storagePath: string
  moderation: { status: 'ok' | 'flagged'; notes: string }
}

/** One entry of a user's viewing history. */
export interface HistoryRow {
  userId: string
  videoId: string
  watchedAt: string
  device: { ip: string; userAgent: string }
}

const WORDS = [
  'river',
  'night',
  'city',
  'cooking',
  'jazz',
  'mountain',
  'robot',
  'garden',
  'ocean',
  'retro',
]

// Deterministic generators (no randomness) so the demo prints the same tour every run.
function word(i: number): string {
  return WORDS[i % WORDS.length]!
}

/** Three hundred generated videos. */
export const videos: VideoRow[] = Array.from({ length: 300 }, (_, i) => ({
  id: String(i + 1),
  title: `${word(i)} ${word(i * 7 + 3)} #${i + 1}`,
  durationSec: 60 + ((i * 37) % 3600),
  owner: { id: `user-${(i % 40) + 1}`, email: `user${(i % 40) + 1}@corp.example` },
  tags: [word(i * 3), word(i * 5 + 1)],
  uploadIp: `10.${i % 256}.${(i * 7) % 256}.${(i * 13) % 256}`,
  storagePath: `s3://videos-internal/raw/${i + 1}.mp4`,
  moderation: {
    status: i % 17 === 0 ? 'flagged' : 'ok',
    notes: i % 17 === 0 ? 'reported twice' : '',
  },
}))

/** Viewing histories of forty users, a few hundred rows in all. */
export const history: HistoryRow[] = Array.from({ length: 400 }, (_, i) => ({
  userId: `user-${(i % 40) + 1}`,
  videoId: String(((i * 13) % 300) + 1),
  watchedAt: new Date(Date.UTC(2026, 10, 1) + i * 3_600_000).toISOString(),
  device: { ip: `192.168.${i % 256}.${(i * 3) % 256}`, userAgent: 'tv-app/4.2' },
}))
