import type { Registration, Viewer } from './api'
import type { Snapshot } from './history'
import type { StoredFile } from './files'

/**
 * The live events of one school (server-sent events): who has the dossier open,
 * registrations as they are created or changed, comments and new versions (snapshots).
 * EventSource reconnects by itself.
 */
export function schoolEvents(
  school: string,
  handlers: {
    presence?: (v: Viewer[]) => void
    registration?: (r: Registration) => void
    comment?: (c: { registration_id: string; thread: unknown }) => void
    snapshot?: (s: { registration_id: string; snapshot: Snapshot }) => void
    file?: (f: { place: string; place_id: string; file: StoredFile }) => void
    resync?: () => void
  },
): () => void {
  const source = new EventSource(`/api/schools/${encodeURIComponent(school)}/events`)
  source.addEventListener('presence', (e) => handlers.presence?.(JSON.parse((e as MessageEvent).data)))
  source.addEventListener('registration', (e) => handlers.registration?.(JSON.parse((e as MessageEvent).data)))
  source.addEventListener('comment', (e) => handlers.comment?.(JSON.parse((e as MessageEvent).data)))
  source.addEventListener('snapshot', (e) => handlers.snapshot?.(JSON.parse((e as MessageEvent).data)))
  source.addEventListener('file', (e) => handlers.file?.(JSON.parse((e as MessageEvent).data)))
  source.addEventListener('resync', () => handlers.resync?.())
  return () => source.close()
}
