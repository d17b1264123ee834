import { api, ApiError, type Me } from './api'
import { adopt, clearOffline } from './offline'

/** The logged-in user, once known (`undefined` while loading, `null` when logged out). */
export const session = $state<{ me: Me | null | undefined }>({ me: undefined })

/** Asks who is logged in. The offline copy in this browser is theirs: anyone else's is
 * erased first; when the session is gone, all of it but their unsent edits (offline.ts). */
export async function loadMe() {
  try {
    const me = await api<Me>('GET', '/api/me', undefined, true)
    await adopt(me.user.id)
    session.me = me
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      await clearOffline(true)
      session.me = null
    } else throw e
  }
}

/** Logs out, and erases the offline copy; the address of the provider's logout when the
 * provider started the session. */
export async function logout(): Promise<string | null> {
  const answer = await api<{ provider_logout?: string } | undefined>('POST', '/api/logout').catch(() => undefined)
  await clearOffline()
  session.me = null
  return answer?.provider_logout ?? null
}
