// A small history router: the server answers every app path with index.html.

export type Route =
  | { page: 'login' }
  | { page: 'schools' }
  | { page: 'overview'; school: string }
  | { page: 'summary'; school: string }
  | { page: 'clbSummary' }
  | { page: 'registration'; id: string }
  | { page: 'meeting'; id: string }
  | { page: 'report'; id: string }
  | { page: 'agreement'; id: string }
  | { page: 'notifications' }
  | { page: 'account' }
  | { page: 'search' }
  | { page: 'admin' }
  | { page: 'notfound' }

function parse(path: string): Route {
  if (path === '/' || path === '') return { page: 'schools' }
  if (path === '/login') return { page: 'login' }
  // `/meldingen` was its first name; old links and bookmarks still arrive.
  if (path === '/notificaties' || path === '/meldingen') return { page: 'notifications' }
  if (path === '/account') return { page: 'account' }
  if (path === '/zoeken') return { page: 'search' }
  if (path === '/beheer') return { page: 'admin' }
  if (path === '/clb/overzicht') return { page: 'clbSummary' }
  let m = path.match(/^\/scholen\/([^/]+)\/?$/)
  if (m) return { page: 'overview', school: decodeURIComponent(m[1]) }
  m = path.match(/^\/scholen\/([^/]+)\/overzicht\/?$/)
  if (m) return { page: 'summary', school: decodeURIComponent(m[1]) }
  m = path.match(/^\/registraties\/([0-9a-fA-F-]{36})\/?$/)
  if (m) return { page: 'registration', id: m[1] }
  m = path.match(/^\/overleg\/([0-9a-fA-F-]{36})\/?$/)
  if (m) return { page: 'meeting', id: m[1] }
  m = path.match(/^\/overleg\/([0-9a-fA-F-]{36})\/verslag\/?$/)
  if (m) return { page: 'report', id: m[1] }
  m = path.match(/^\/afspraken\/([0-9a-fA-F-]{36})\/?$/)
  if (m) return { page: 'agreement', id: m[1] }
  return { page: 'notfound' }
}

export const router = $state({ path: location.pathname + location.search, route: parse(location.pathname) })

export function navigate(path: string, replace = false) {
  if (replace) history.replaceState(null, '', path)
  else history.pushState(null, '', path)
  router.path = path
  router.route = parse(path.split('?')[0])
  window.scrollTo(0, 0)
}

window.addEventListener('popstate', () => {
  router.path = location.pathname + location.search
  router.route = parse(location.pathname)
})

/** Writes a page's filters into its URL, leaving out the empty ones. Replaced, not pushed:
 * Back leaves the page rather than stepping through every keystroke, and coming back to it
 * (or a shared link) shows the same list. */
export function keepInUrl(filters: Record<string, string>) {
  const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString()
  const url = location.pathname + (query ? `?${query}` : '')
  if (url !== location.pathname + location.search) history.replaceState(history.state, '', url)
}

/** Sends the user to login, remembering where they were. */
export function toLogin(expired: boolean) {
  const back = router.route.page === 'login' ? '/' : router.path
  const params = new URLSearchParams({ next: back })
  if (expired) params.set('expired', '1')
  navigate(`/login?${params}`, true)
}
