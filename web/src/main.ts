/// <reference types="vite/client" />
import { mount } from 'svelte'
import App from './App.svelte'
import './app.css'

const target = document.getElementById('app')
if (target) mount(App, { target })

// The service worker (public/sw.js) lets the app load without a connection, so that a
// reload while offline still shows what was typed (issue 21). Not in development: Vite
// serves modules that change with every edit, and a cached copy would only be in the way.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js').catch(() => {
    // No service worker (a private window, an insecure origin): the app works, only not offline.
  })
}
