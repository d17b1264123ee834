// Logging in through a real OpenID Connect provider (tests/node/oidc-provider.mjs: the npm
// package oidc-provider with test accounts in the shape of the Flemish government's
// ACM/IDM), in Chromium: the login page's button, the provider's form, the landing in the
// right school, the logout at both ends, a role withdrawn at the provider, refused tokens.
//
//   SAMEN_BIN (default: target/debug/samen) · CHROMIUM (default: /usr/bin/chromium)
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bin, launchBrowser, root, shots, started } from './support.mjs'

let provider, issuer, samen, base, data, browser

async function control(method, path, body) {
  const response = await fetch(`${issuer}/__test/${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return response.status
}

before(async () => {
  mkdirSync(shots, { recursive: true })
  ;({ proc: provider, url: issuer } = started('node', [join(root, 'tests/node/oidc-provider.mjs')], /oidc-provider luistert op (http:\/\/\S+)/, 'oidc-provider'))
  issuer = await issuer
  data = mkdtempSync(join(tmpdir(), 'samen-e2e-oidc-'))
  const args = ['serve', '--demo', '--addr', '127.0.0.1:0', '--data', data, '--password-login', 'false',
    '--oidc-issuer', issuer, '--oidc-client-id', 'samen', '--oidc-client-secret', 'samen-test-secret', '--oidc-scopes', 'openid,profile,email,samen']
  ;({ proc: samen, url: base } = started(bin, args, /Samen luistert op (http:\/\/[^\s/]+)/, 'samen'))
  base = await base
  assert.equal(await control('POST', 'samen', { origin: base }), 200)
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  samen?.kill('SIGTERM')
  provider?.kill('SIGTERM')
  if (data) rmSync(data, { recursive: true, force: true })
})

/** From Samen's login page through the provider's form, as `account`. */
async function logIn(page, account) {
  await page.goto(`${base}/login`)
  await page.click('[data-provider-login]')
  await page.waitForURL((url) => url.href.startsWith(issuer))
  await page.fill('input[name=login]', account)
  await page.fill('input[name=password]', 'wachtwoord')
  await page.click('button:has-text("Sign-in")')
  await page.waitForURL((url) => url.href.startsWith(base) && !url.pathname.startsWith('/api/'))
}

test('a school member logs in through the provider, lands in their school, logs out at both ends, and loses access when the school withdraws the role', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'nl-BE' })
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))

  // Password login is off on this server: the page offers the provider only.
  await page.goto(`${base}/login`)
  const button = page.locator('[data-provider-login]', { hasText: 'Aanmelden via de Vlaamse overheid' })
  await button.waitFor()
  assert.equal(await page.locator('#password').count(), 0, 'no password field')
  await page.screenshot({ path: join(shots, 'login-provider.png'), fullPage: true })

  // An Wouters holds the dossier role for De Linde only: she lands in De Linde.
  await logIn(page, 'an.school')
  await page.locator('#overview-title', { hasText: 'De Linde' }).waitFor()
  const me = await page.evaluate(() => fetch('/api/me').then((r) => r.json()))
  assert.deepEqual(me.memberships.map((m) => `${m.role}@${m.institution.number}`), ['school_dossier@100001'])

  // No password here: the account page says where the login and its second factor are managed.
  await page.click('[data-testid=account-link]')
  await page.locator('[data-testid=provider-account]').waitFor()
  assert.equal(await page.locator('[data-testid=totp]').count(), 0)

  // Logging out ends the provider's session too, and comes back to the login page.
  await page.click('button:has-text("Afmelden")')
  await page.waitForURL((url) => url.href.startsWith(`${base}/login`) && url.search.includes('afgemeld=1'))
  await page.locator('.notice', { hasText: 'Je bent afgemeld.' }).waitFor()

  // De Linde withdraws the role at the provider: the next login says what to do.
  assert.equal(await control('PUT', 'accounts/an.school', {
    email: 'an.wouters@school.test', name: 'An Wouters', vo_doelgroepcode: 'SCHOOL', vo_orgcode: '100001',
  }), 204)
  await logIn(page, 'an.school')
  const refused = page.locator('[data-provider-failure]')
  await refused.waitFor()
  assert.match(await refused.textContent(), /geen rol voor het samenwerkingsdossier/)
  assert.equal(await page.evaluate(() => fetch('/api/me').then((r) => r.status)), 401)
  await page.screenshot({ path: join(shots, 'login-provider-no-role.png'), fullPage: true })
  assert.deepEqual(errors, [])
  await context.close()
})

test('a CLB worker sees the CLB schools, and a token the app cannot trust is refused with a clear message', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'nl-BE' })
  const page = await context.newPage()
  await logIn(page, 'bart.clb')
  await page.locator('h1', { hasText: 'Kies een school' }).waitFor()
  for (const school of ['De Linde', 'Het Anker']) await page.locator('main', { hasText: school }).waitFor()
  await context.close()

  assert.equal(await control('POST', 'mode', { mode: 'wrong-audience' }), 204)
  try {
    const other = await browser.newContext({ locale: 'nl-BE' })
    const second = await other.newPage()
    await logIn(second, 'bart.clb')
    const message = second.locator('[data-provider-failure]')
    await message.waitFor()
    assert.match(await message.textContent(), /kon niet worden gecontroleerd/)
    await other.close()
  } finally {
    await control('POST', 'mode', { mode: null })
  }
})
