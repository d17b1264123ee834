import type { Registration, Viewer } from './api'

/**
 * The live events of one school (server-sent events): who has the dossier open, and
 * registrations as they are created or changed. EventSource reconnects by itself.
 */
export function schoolEvents(
  school: string,
  handlers: {
    presence?: (v: Viewer[]) => void
    registration?: (r: Registration) => void
    comment?: (c: { registration_id: string; thread: unknown }) => void
    resync?: () => void
  },
): () => void {
  const source = new EventSource(`/api/schools/${encodeURIComponent(school)}/events`)
  source.addEventListener('presence', (e) => handlers.presence?.(JSON.parse((e as MessageEvent).data)))
  source.addEventListener('registration', (e) => handlers.registration?.(JSON.parse((e as MessageEvent).data)))
  source.addEventListener('comment', (e) => handlers.comment?.(JSON.parse((e as MessageEvent).data)))
  source.addEventListener('resync', () => handlers.resync?.())
  return () => source.close()
}
