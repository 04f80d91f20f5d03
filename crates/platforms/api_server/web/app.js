// The page's frame: sign-in, the shared fetch helper, and switching
// between the chat and dashboard views.
//
// The key (or a sign-in token from `hermod web token`) is kept in
// sessionStorage, so it lasts as long as the tab and is sent only in the
// Authorization header of fetch requests, never in a URL or cookie.
//
// For the views' scripts:
// - window.hermodApi(path, options) fetches with the key and returns the
//   parsed JSON (null for an empty answer). options: method, body (an
//   object, sent as JSON), headers, signal, raw (return the Response
//   itself, for streams). It throws an Error with the server's message and
//   `status`, `code` and `retryAfter` (seconds) for an error answer; a 401
//   signs out and shows the sign-in form.
// - document fires `hermod:view` (detail.view: "chat" or "dashboard") each
//   time a view is shown while signed in, and `hermod:signout` on signing
//   out; window.hermodView() is the view shown ("" when signed out).
(function () {
  'use strict';

  var STORAGE = 'hermod.key';
  var VIEWS = ['chat', 'dashboard'];
  var current = '';

  function $(id) {
    return document.getElementById(id);
  }

  function credential() {
    try {
      return sessionStorage.getItem(STORAGE) || '';
    } catch (e) {
      return '';
    }
  }

  function remember(key) {
    try {
      if (key) sessionStorage.setItem(STORAGE, key);
      else sessionStorage.removeItem(STORAGE);
    } catch (e) {
      /* private mode: the key lives only in memory for this page */
    }
    memory = key;
  }
  var memory = '';

  function bearer() {
    return credential() || memory;
  }

  // An error answer as an Error with the server's message.
  function failure(status, body, retryAfter) {
    var error = body && body.error ? body.error : null;
    var message = error && error.message ? error.message : 'The server answered ' + status + '.';
    if (status === 429) {
      var wait = retryAfter ? ' in ' + retryAfter + ' s' : ' in a moment';
      message = 'The server is busy; retry' + wait + '. (' + message + ')';
    }
    var e = new Error(message);
    e.status = status;
    e.code = error && error.code ? error.code : '';
    e.retryAfter = retryAfter;
    return e;
  }

  async function api(path, options) {
    options = options || {};
    var headers = Object.assign({}, options.headers || {});
    headers.Authorization = 'Bearer ' + (options.key || bearer());
    var init = { method: options.method || 'GET', headers: headers, signal: options.signal, cache: 'no-store' };
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    var response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      var offline = new Error('Cannot reach the server: is hermod running? (' + (e && e.message ? e.message : e) + ')');
      offline.status = 0;
      throw offline;
    }
    if (!response.ok) {
      var body = null;
      try {
        body = await response.json();
      } catch (e) {
        /* not JSON */
      }
      var retry = parseInt(response.headers.get('Retry-After') || '', 10);
      var error = failure(response.status, body, isNaN(retry) ? null : retry);
      if (response.status === 401 && !options.key) {
        signOut('Your sign-in was not accepted (the key changed or the token expired); sign in again.');
      }
      throw error;
    }
    if (options.raw) return response;
    var text = await response.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (e) {
      return text;
    }
  }

  function viewOf(path) {
    return path.replace(/\/+$/, '') === '/dashboard' ? 'dashboard' : 'chat';
  }

  function show(view, push) {
    if (VIEWS.indexOf(view) < 0) view = 'chat';
    if (push && location.pathname !== '/' + view) history.pushState({ view: view }, '', '/' + view);
    current = view;
    VIEWS.forEach(function (name) {
      $(name + '-view').hidden = name !== view;
      var tab = $('nav-' + name);
      tab.classList.toggle('active', name === view);
      tab.setAttribute('aria-current', name === view ? 'page' : 'false');
    });
    document.title = view === 'dashboard' ? 'hermod: dashboard' : 'hermod';
    document.dispatchEvent(new CustomEvent('hermod:view', { detail: { view: view } }));
  }

  function signedIn() {
    $('login').hidden = true;
    $('app').hidden = false;
    $('login-key').value = '';
    show(viewOf(location.pathname), false);
  }

  function signOut(why) {
    remember('');
    current = '';
    $('app').hidden = true;
    $('login').hidden = false;
    var error = $('login-error');
    error.textContent = why || '';
    error.hidden = !why;
    document.dispatchEvent(new CustomEvent('hermod:signout'));
    $('login-key').focus();
  }

  async function signIn(event) {
    event.preventDefault();
    var key = $('login-key').value.trim();
    var error = $('login-error');
    var button = $('login-submit');
    if (!key) return;
    button.disabled = true;
    error.hidden = true;
    try {
      await api('/v1/models', { key: key });
      remember(key);
      signedIn();
    } catch (e) {
      error.textContent =
        e.status === 401
          ? 'That key or token was not accepted. Use API_SERVER_KEY, or a fresh token from: hermod web token (tokens expire).'
          : e.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  async function start() {
    $('login').addEventListener('submit', signIn);
    $('logout').addEventListener('click', function () {
      signOut('');
    });
    VIEWS.forEach(function (view) {
      $('nav-' + view).addEventListener('click', function () {
        show(view, true);
      });
    });
    window.addEventListener('popstate', function () {
      if (current) show(viewOf(location.pathname), false);
    });
    if (!bearer()) {
      signOut('');
      return;
    }
    try {
      await api('/v1/models');
      signedIn();
    } catch (e) {
      if (e.status !== 401) signOut(e.message);
    }
  }

  window.hermodApi = api;
  window.hermodView = function () {
    return current;
  };

  // Deferred scripts run before DOMContentLoaded: waiting for it lets the
  // views' scripts (loaded after this one) hear the first `hermod:view`.
  if (document.readyState === 'complete') start();
  else document.addEventListener('DOMContentLoaded', start);
})();
