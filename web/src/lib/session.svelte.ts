import { api, ApiError, type Me } from './api'

/** The logged-in user, once known (`undefined` while loading, `null` when logged out). */
export const session = $state<{ me: Me | null | undefined }>({ me: undefined })

export async function loadMe() {
  try {
    session.me = await api<Me>('GET', '/api/me', undefined, true)
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) session.me = null
    else throw e
  }
}

/** Logs out; the address of the provider's logout when the provider started the session. */
export async function logout(): Promise<string | null> {
  const answer = await api<{ provider_logout?: string } | undefined>('POST', '/api/logout').catch(() => undefined)
  session.me = null
  return answer?.provider_logout ?? null
}
