// The REST API. Every call sends the session cookie and our Origin (the browser does);
// errors become ApiError with the server's code, so pages can show the right message.

import { t } from './i18n.svelte'

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public retryAfter?: number,
  ) {
    super(message)
  }
}

/** What to tell the user about a failed call, in their language: what went wrong and what to do. */
export function errorText(e: unknown): string {
  if (!(e instanceof ApiError)) return t('error.generic.body')
  switch (e.status) {
    case 0:
      return t('error.network')
    case 400:
      return t('error.badRequest', { detail: e.message })
    case 403:
      return t('error.forbidden.body')
    case 404:
      return t('error.notFound.body')
    case 409:
      return t('error.conflict')
    case 413:
      return t('error.tooLarge')
    case 429:
      return t('error.throttled', { seconds: e.retryAfter ?? 5 })
    case 503:
      return t('error.unavailable')
    default:
      return t('error.generic.body')
  }
}

/** Called when a request finds the session gone (401): the app sends the user to login. */
let onUnauthenticated: () => void = () => {}
export function setUnauthenticatedHandler(handler: () => void) {
  onUnauthenticated = handler
}

/** Whether a failure is worth showing where it happened: a lost session already sends the user to login. */
export const worthShowing = (e: unknown) => !(e instanceof ApiError && e.status === 401)

export async function api<T>(method: string, path: string, body?: unknown, quiet401 = false): Promise<T> {
  let response: Response
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch {
    throw new ApiError(0, 'network', 'network error')
  }
  if (response.status === 204) return undefined as T
  const data = await response.json().catch(() => null)
  if (!response.ok) {
    const error = new ApiError(
      response.status,
      data?.error?.code ?? 'unknown',
      data?.error?.message ?? response.statusText,
      Number(response.headers.get('retry-after')) || undefined,
    )
    if (response.status === 401 && error.code === 'unauthenticated' && !quiet401) onUnauthenticated()
    throw error
  }
  return data as T
}

export interface Institution { kind: string; number: string; name: string }
export interface Membership { role: string; institution: Institution | null }
export interface User { id: string; email: string; display_name: string }
export interface Me { user: User; memberships: Membership[]; demo: boolean; color: string; password: boolean }
/** A school's figures on the list of schools (for those who read its registrations). */
export interface SchoolFigures { open: number; unread: number; last_activity: number | null; changed_since_visit: number }
export interface School { number: string; name: string; access: 'clb' | 'school' | 'lsc'; figures: SchoolFigures | null }
export interface Registration {
  id: string
  kind: 'signal' | 'consultation'
  school_number: string
  school_name: string
  school_year: string
  title: string
  theme: string | null
  status: 'open' | 'closed'
  owner: { id: string; name: string }
  created_at: number
  updated_at: number
}
export interface Viewer { id: string; name: string; color: string; role: string }
/** Someone at a school's table, and the partner they are there for. */
export interface SchoolPerson { id: string; name: string; partner: 'school' | 'clb' | 'lsc'; lsc: string | null }
export interface PartnerRole { partner: 'school' | 'clb' | 'lsc'; lsc: string | null }
export interface SchoolTable { school: Institution; you: PartnerRole[]; lscs: Institution[]; people: SchoolPerson[] }
export interface Meeting {
  id: string
  school_number: string
  school_name: string
  school_year: string
  title: string
  held_on: string
  status: 'planned' | 'closed'
  started_at: number | null
  closed_at: number | null
  follows: string | null
  created_by: { id: string; name: string }
  created_at: number
  updated_at: number
  participants: SchoolPerson[]
  guests: string[]
}
export interface MeetingView { meeting: Meeting; you: PartnerRole[]; lscs: Institution[]; second_moments: Meeting[] }
/** A school and an LSC's collaboration agreements (samenwerkingsafspraken). */
export interface Agreement { id: string; school: Institution; lsc: Institution; created_at: number }
export interface AppConfig {
  demo: boolean
  demo_users: { email: string; name: string }[]
  demo_password: string | null
  /** Whether the login page asks for an e-mail address and a password. */
  password_login: boolean
  /** The OpenID Connect provider people may log in through, if one is configured. */
  provider: { label: string; start: string } | null
}
export interface LoginResponse { user: User; memberships: Membership[] }
/** `POST /api/login`'s 202: the password was right, and the account has two-step verification. */
export interface SecondFactorNeeded { second_factor: 'totp'; pending: string; expires_in_secs: number }
export interface TotpStatus { enabled: boolean; enabled_at: number | null; recovery_codes_left: number }
export interface TotpSetup { secret: string; otpauth_uri: string; digits: number; period_secs: number }

// The platform administrator's API (`/api/admin/…`, the Beheer page).
/** A role someone may hold; every one but `admin` is held on an institution of one kind. */
export type RoleName = 'school_dossier' | 'clb_staff' | 'clb_admin' | 'lsc_staff' | 'admin'
/** A role as the admin API shows it: `oidc` roles come from the identity provider at every login. */
export interface AdminMembership { role: RoleName; institution: Institution | null; source: 'local' | 'oidc' }
export interface AdminUser {
  id: string
  email: string
  display_name: string
  disabled: boolean
  /** Whether they have a password here (people the provider logs in have none). */
  password: boolean
  /** Whether they are linked to the identity provider. */
  provider: boolean
  memberships: AdminMembership[]
}
/** An institution with, for a school, the CLBs and LSCs that serve it. */
export interface AdminInstitution extends Institution { served_by: Institution[] }
export interface ApiToken {
  id: string
  name: string
  created_at: number
  last_used_at: number | null
  revoked_at: number | null
  expires_at: number | null
  scope: 'read' | 'read_write'
  /** The school the token is limited to, if any. */
  school: string | null
}
/** A new API token: `token` is shown once, never again. */
export interface NewApiToken { id: string; name: string; token: string }
export interface AuditEntry {
  id: number
  at: number
  /** A user id, `cli`, or `null` when nobody was logged in. */
  actor_id: string | null
  actor: User | null
  action: string
  target: string | null
  outcome: 'ok' | 'denied' | 'not_found'
  detail: string | null
}
export interface AuditPage { entries: AuditEntry[]; next_before: number | null }
