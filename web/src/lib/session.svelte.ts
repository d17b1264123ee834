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

export async function logout() {
  await api('POST', '/api/logout').catch(() => {})
  session.me = null
}
