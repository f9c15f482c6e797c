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

// Deterministic generator (no randomness) so the demo prints the same tour every run.
function word(i: number): string {
  return WORDS[i % WORDS.length]!
}

/** A few hundred generated videos. */
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
