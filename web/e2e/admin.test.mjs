// Browser tests of the Beheer page (/beheer): a platform administrator manages institutions,
// users, roles and API tokens and reads the audit log; anyone else gets no access. A real
// `samen serve --demo` of its own and Debian's Chromium driven by playwright-core.
//
//   SAMEN_BIN (default: target/debug/samen) · CHROMIUM (default: /usr/bin/chromium)

import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { accessible, launchBrowser, logIn, shots, startSamen } from './support.mjs'

let server
let browser
/** Uncaught errors of every page: there must be none. */
const pageErrors = []

before(async () => {
  mkdirSync(shots, { recursive: true })
  server = await startSamen()
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  server?.stop()
})

/** A logged-in page of `email`. CSP is set aside so that axe-core can be injected. */
const person = (email) => logIn(browser, server.url, email, { pageErrors, bypassCSP: true })

/** Waits (up to 2.5 s) until `check()` holds. */
async function until(check) {
  for (let i = 0; i < 50 && !check(); i++) await new Promise((r) => setTimeout(r, 50))
  assert.ok(check())
}
const param = (page, name) => new URL(page.url()).searchParams.get(name)
/** Today, here, as a date input holds it. */
const today = (offset = 0) => {
  const d = new Date()
  d.setDate(d.getDate() + offset)
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}
/** What an API token may fetch: the schools it reaches, or the status it got. */
const withToken = (page, token) =>
  page.evaluate(async (secret) => {
    const r = await fetch('/api/schools', { credentials: 'omit', headers: { authorization: `Bearer ${secret}` } })
    return { status: r.status, schools: r.ok ? (await r.json()).schools.map((s) => s.number) : [] }
  }, token)

test('a platform administrator manages institutions, users, roles and API tokens and reads the audit log', async () => {
  const page = await person('admin@demo.test')
  // Every confirmation is answered yes, unless a step says otherwise; what was asked is kept.
  const asked = []
  let answer = true
  page.on('dialog', (dialog) => {
    asked.push(dialog.message())
    return answer ? dialog.accept() : dialog.dismiss()
  })

  // The start page's note and the menu both lead to the page; its tab is in the URL.
  await page.locator('[data-admin-note] [data-testid=admin-page-link]').waitFor()
  await page.click('[data-testid=admin-link]')
  await page.waitForURL((url) => url.pathname === '/beheer')
  await page.locator('h1', { hasText: 'Beheer' }).waitFor()
  await page.locator('[data-testid=user][data-email="admin@demo.test"]').waitFor()
  await page.waitForFunction(() => new URLSearchParams(location.search).get('tab') === 'gebruikers')
  assert.equal(await page.getAttribute('[data-testid=admin-tab-gebruikers]', 'aria-selected'), 'true')
  await accessible(page, 'beheer: gebruikers')

  // The tabs: one tab stop, the arrows move between them (and the URL follows).
  await page.focus('[data-testid=admin-tab-gebruikers]')
  await page.keyboard.press('ArrowRight')
  await page.waitForFunction(() => new URLSearchParams(location.search).get('tab') === 'instellingen')
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'admin-tab-instellingen')
  assert.equal(await page.getAttribute('[data-testid=admin-tab-gebruikers]', 'tabindex'), '-1')

  // Institutions: a school served by the demo CLB.
  const institutions = page.locator('[data-testid=admin-institutions]')
  await institutions.locator('[data-testid=institution][data-number="100001"]').waitFor()
  const instForm = page.locator('[data-testid=institution-form]')
  await page.click('[data-testid=institution-submit]')
  await instForm.locator('[role=alert]', { hasText: 'Vul eerst in' }).waitFor()
  await page.selectOption('[data-testid=institution-kind]', 'school')
  await page.fill('[data-testid=institution-number]', '100009')
  await page.fill('[data-testid=institution-name]', 'De Brug')
  await page.selectOption('[data-testid=institution-served-by]', '900001')
  await page.click('[data-testid=institution-submit]')
  await instForm.locator('[role=status]', { hasText: 'De Brug' }).waitFor()
  const brug = institutions.locator('[data-testid=institution][data-number="100009"]')
  await brug.locator('[data-testid=served-by][data-number="900001"][data-kind=clb]').waitFor()
  assert.match(await brug.textContent(), /De Brug/)
  // The same number again: the server's 409, said in the page.
  await page.fill('[data-testid=institution-number]', '100009')
  await page.fill('[data-testid=institution-name]', 'Nog een brug')
  await page.click('[data-testid=institution-submit]')
  await instForm.locator('[role=alert]', { hasText: 'Er is al een instelling met nummer 100009' }).waitFor()
  // An LSC linked to the school, and unlinked again after a confirmation.
  await page.selectOption('[data-testid=link-partner]', 'lsc:800001')
  await page.selectOption('[data-testid=link-school]', '100009')
  await page.click('[data-testid=link-submit]')
  const lsc = brug.locator('[data-testid=served-by][data-number="800001"]')
  await lsc.waitFor()
  await lsc.locator('[data-testid=unlink]').click()
  await lsc.waitFor({ state: 'detached' })
  assert.match(asked.at(-1), /ontkoppelen/)
  await brug.locator('[role=status]', { hasText: 'bedient' }).waitFor()
  await accessible(page, 'beheer: instellingen')
  await page.screenshot({ path: join(shots, 'admin-institutions.png'), fullPage: true })

  // A new user without a password (the provider would log her in).
  await page.click('[data-testid=admin-tab-gebruikers]')
  await page.click('[data-testid=new-user-toggle]')
  const userForm = page.locator('[data-testid=new-user-form]')
  await page.click('[data-testid=new-user-submit]')
  await userForm.locator('[role=alert]', { hasText: 'Vul eerst in' }).waitFor()
  await page.fill('#new-user-email', 'eva@demo.test')
  await page.fill('#new-user-name', 'Eva Test')
  await page.click('[data-testid=new-user-submit]')
  await userForm.locator('[role=status]', { hasText: 'Eva Test' }).waitFor()
  const eva = page.locator('[data-testid=user][data-email="eva@demo.test"]')
  await eva.locator('[data-testid=badge-no-password]').waitFor()
  assert.equal(await eva.locator('[data-testid=role]').count(), 0)
  const evaId = await eva.getAttribute('data-user-id')

  // The search is sent once typing pauses, and kept in the URL.
  await page.fill('[data-testid=user-search]', 'eva')
  await page.waitForFunction(() => new URLSearchParams(location.search).get('q') === 'eva')
  await page.locator('[data-testid=user][data-email="admin@demo.test"]').waitFor({ state: 'detached' })
  await eva.waitFor()

  // A role on De Brug: for a school's role only schools are offered.
  await eva.locator('[data-testid=add-role-toggle]').click()
  await eva.locator('[data-testid=role-select]').selectOption('school_dossier')
  const offered = await eva.locator('[data-testid=role-institution] option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean))
  assert.ok(offered.includes('100009') && offered.includes('100001'), `schools offered: ${offered}`)
  assert.ok(!offered.includes('900001') && !offered.includes('800001'), `only schools offered: ${offered}`)
  await eva.locator('[data-testid=role-institution]').selectOption('100009')
  await eva.locator('[data-testid=role-submit]').click()
  const role = eva.locator('[data-testid=role][data-role=school_dossier][data-institution="100009"]')
  await role.waitFor()
  assert.equal(await role.getAttribute('data-source'), 'local')
  await eva.locator('[role=status]', { hasText: 'Rol toegevoegd' }).waitFor()

  // An API token, read-only and for De Brug alone: shown once, with a warning.
  await eva.locator('[data-testid=tokens-toggle]').click()
  await eva.locator('[data-testid=tokens-panel]').waitFor()
  await eva.locator('[data-testid=token-name]').fill('koppeling')
  await eva.locator('[data-testid=token-read-only]').check()
  await eva.locator('[data-testid=token-days]').fill('30')
  await eva.locator('[data-testid=token-school]').selectOption('100009')
  await eva.locator('[data-testid=token-submit]').click()
  const shown = eva.locator('[data-testid=new-token-value]')
  await shown.waitFor()
  const secret = (await shown.textContent()).trim()
  assert.ok(secret.length >= 20, 'the token is shown')
  assert.match(await eva.locator('[data-testid=new-token]').textContent(), /maar één keer/)
  const token = eva.locator('[data-testid=token]', { hasText: 'koppeling' })
  await token.waitFor()
  assert.equal(await token.getAttribute('data-revoked'), 'false')
  assert.match(await token.textContent(), /alleen lezen/)
  assert.deepEqual(await withToken(page, secret), { status: 200, schools: ['100009'] }, 'the token reaches De Brug alone')
  await page.screenshot({ path: join(shots, 'admin-token.png'), fullPage: true })
  await eva.locator('[data-testid=token-stored]').click()
  assert.equal(await shown.count(), 0)
  assert.ok(!(await page.content()).includes(secret), 'once dismissed, the token is nowhere on the page')
  // Revoked after a confirmation: it no longer works.
  await token.locator('[data-testid=revoke-token]').click()
  await token.locator('[data-testid=token-revoked]').waitFor()
  assert.equal(await token.getAttribute('data-revoked'), 'true')
  assert.match(asked.at(-1), /koppeling/)
  assert.equal((await withToken(page, secret)).status, 401)

  // Disabled and enabled again, each after a confirmation.
  await eva.locator('[data-testid=toggle-disabled]').click()
  await eva.locator('[data-testid=badge-disabled]').waitFor()
  assert.match(asked.at(-1), /uitschakelen/)
  await eva.locator('[data-testid=toggle-disabled]', { hasText: 'Inschakelen' }).waitFor()
  await eva.locator('[data-testid=toggle-disabled]').click()
  await eva.locator('[data-testid=badge-disabled]').waitFor({ state: 'detached' })
  await eva.locator('[role=status]', { hasText: 'weer ingeschakeld' }).waitFor()

  // A role removal answered "no" leaves the role.
  answer = false
  const before = asked.length
  await role.locator('[data-testid=remove-role]').click()
  await until(() => asked.length > before)
  answer = true
  assert.match(asked.at(-1), /verwijderen/)
  assert.equal(await role.count(), 1)

  // Nobody disables themselves: the server's refusal is said in the page.
  await page.fill('[data-testid=user-search]', 'admin@demo.test')
  const self = page.locator('[data-testid=user][data-email="admin@demo.test"]')
  await self.locator('[data-testid=toggle-disabled]').click()
  await self.locator('[role=alert]').waitFor()
  assert.equal(await self.locator('[data-testid=badge-disabled]').count(), 0)
  await accessible(page, 'beheer: gebruikers, after the changes')

  // The audit log: Eva's new role is there, with who gave it. Filtered on its kind of action
  // (a prefix: `membership.` as the identity provider's logins write it, `role.` as the
  // command line does), only that kind stays, and the filter is in the URL.
  await page.click('[data-testid=admin-tab-auditlog]')
  await page.waitForFunction(() => new URLSearchParams(location.search).get('tab') === 'auditlog')
  const aboutEva = new RegExp(`${evaId}|eva@demo\\.test`)
  const grant = page.locator('[data-testid=audit-row][data-action$=".grant"]', { hasText: aboutEva })
  await grant.first().waitFor()
  assert.match(await grant.first().textContent(), /Beheerder/, 'the grant names who made it')
  const prefix = `${(await grant.first().getAttribute('data-action')).split('.')[0]}.`
  await page.fill('[data-testid=audit-action]', prefix)
  await page.click('[data-testid=audit-submit]')
  await page.waitForFunction((p) => new URLSearchParams(location.search).get('actie') === p, prefix)
  const rows = page.locator('[data-testid=audit-row]')
  await rows.first().waitFor()
  await grant.first().waitFor()
  const actions = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action')))
  assert.ok(actions.every((a) => a.startsWith(prefix)), `only ${prefix}: ${actions}`)
  await accessible(page, 'beheer: auditlog')
  await page.screenshot({ path: join(shots, 'admin-audit.png'), fullPage: true })

  // The CSV export carries the same filters, and is a CSV file with a header line.
  const href = await page.getAttribute('[data-testid=audit-csv]', 'href')
  assert.ok(href.startsWith('/api/admin/audit.csv?'), href)
  assert.equal(new URL(href, server.url).searchParams.get('action'), prefix)
  const csv = await page.evaluate(async (url) => {
    const r = await fetch(url)
    return { status: r.status, type: r.headers.get('content-type'), text: await r.text() }
  }, href)
  assert.equal(csv.status, 200)
  assert.match(csv.type ?? '', /text\/csv/)
  const [header, ...lines] = csv.text.split(/\r?\n/).filter(Boolean)
  assert.match(header, /^[^,]+(,[^,]+)+$/, `a header line: ${header}`)
  assert.match(header, /acti(e|on)/i, `the header names the columns: ${header}`)
  assert.ok(lines.length >= 1 && lines.every((line) => line.includes(prefix)), `the filtered entries: ${lines.join(' | ')}`)

  // Days: today's entries are in from today to today; an end before the start is refused.
  await page.fill('[data-testid=audit-since]', today())
  await page.fill('[data-testid=audit-until]', today())
  await page.click('[data-testid=audit-submit]')
  await page.waitForFunction(() => new URLSearchParams(location.search).has('tot'))
  await grant.first().waitFor()
  const untilMs = Number(new URL(await page.getAttribute('[data-testid=audit-csv]', 'href'), server.url).searchParams.get('until'))
  assert.ok(untilMs > Date.now(), 'until is the end of the day')
  await page.fill('[data-testid=audit-until]', today(-1))
  await page.click('[data-testid=audit-submit]')
  await page.locator('[data-testid=audit-filters] [role=alert]').waitFor()
  // The outcome filter: nothing of these was denied today.
  await page.fill('[data-testid=audit-until]', today())
  await page.selectOption('[data-testid=audit-outcome]', 'denied')
  await page.click('[data-testid=audit-submit]')
  await page.locator('[data-testid=audit-empty]').waitFor()

  // A reload shows the same tab and filters.
  await page.selectOption('[data-testid=audit-outcome]', '')
  await page.click('[data-testid=audit-submit]')
  await grant.first().waitFor()
  await page.reload()
  await grant.first().waitFor()
  assert.equal(await page.inputValue('[data-testid=audit-action]'), prefix)
  assert.equal(param(page, 'tab'), 'auditlog')

  // On a phone: every tab fits, without sideways scrolling of the page.
  await page.setViewportSize({ width: 390, height: 844 })
  for (const tab of ['auditlog', 'instellingen', 'gebruikers']) {
    await page.click(`[data-testid=admin-tab-${tab}]`)
    await page.waitForFunction((name) => new URLSearchParams(location.search).get('tab') === name, tab)
    await page.locator(`#admin-panel-${tab} .card, #admin-panel-${tab} table`).first().waitFor()
    const wide = await page.evaluate(() => document.documentElement.scrollWidth)
    assert.ok(wide <= 390, `${tab} fits at 390 px (${wide})`)
    await page.screenshot({ path: join(shots, `admin-${tab}-phone.png`), fullPage: true })
  }

  await page.context().close()
  assert.deepEqual(pageErrors, [])
})

test('anyone else sees no Beheer in the menu and gets no access to it', async () => {
  const page = await person('linde@demo.test')
  await page.locator('[data-testid=account-link]').waitFor()
  assert.equal(await page.locator('[data-testid=admin-link]').count(), 0)
  const answers = await page.evaluate(async () => ({
    member: (await fetch('/api/admin/users')).status,
    nobody: (await fetch('/api/admin/users', { credentials: 'omit' })).status,
  }))
  assert.deepEqual(answers, { member: 403, nobody: 401 })
  await page.goto(`${server.url}/beheer`)
  await page.locator('#error-title', { hasText: 'Geen toegang' }).waitFor()
  assert.equal(await page.locator('[data-testid=admin]').count(), 0)
  await page.context().close()
  assert.deepEqual(pageErrors, [])
})

test('a CLB administrator gets the Beheer page for the CLB: its schools, roles on them, and no more', async () => {
  // The platform administrator makes Sara the CLB's own administrator.
  const chief = await person('admin@demo.test')
  const granted = await chief.evaluate(async () => {
    const users = await (await fetch('/api/admin/users?q=clb@demo.test')).json()
    const sara = users.users.find((u) => u.email === 'clb@demo.test')
    const r = await fetch(`/api/admin/users/${sara.id}/roles`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'clb_admin', institution: '900001' }),
    })
    return r.status
  })
  assert.equal(granted, 200)
  await chief.context().close()

  const page = await person('clb@demo.test')
  await page.click('[data-testid=admin-link]')
  await page.locator('[data-testid=admin]').waitFor()
  // Only roles on her CLB and its schools can be given.
  await page.locator('[data-testid=user]', { hasText: 'linde@demo.test' }).first().waitFor()
  assert.equal(await page.locator('[data-testid=user]', { hasText: 'admin@demo.test' }).count(), 0, 'the platform administrator is out of her reach')
  const tom = page.locator('[data-testid=user]', { hasText: 'linde@demo.test' }).first()
  await tom.locator('[data-testid=add-role-toggle]').click()
  const roles = await tom.locator('[data-testid=role-select] option').evaluateAll((options) => options.map((o) => o.value).filter(Boolean))
  assert.deepEqual(roles.sort(), ['clb_admin', 'clb_staff', 'school_dossier'])
  // Institutions: only schools can be added, and no CLB links offered.
  await page.click('[data-testid=admin-tab-instellingen]')
  await page.locator('[data-testid=institution][data-number="100001"]').waitFor()
  const kinds = await page.locator('[data-testid=institution-kind] option').evaluateAll((options) => options.map((o) => o.value))
  assert.deepEqual(kinds, ['school'])
  const partners = await page.locator('[data-testid=link-partner] option').evaluateAll((options) => options.map((o) => o.value).filter(Boolean))
  assert.ok(partners.length > 0 && partners.every((p) => p.startsWith('lsc:')), partners.join())
  await accessible(page, 'the Beheer page of a CLB administrator')
  await page.screenshot({ path: join(shots, 'admin-clb.png'), fullPage: true })
  await page.context().close()
  assert.deepEqual(pageErrors, [])
})
