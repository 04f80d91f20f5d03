// The dashboard view (#dashboard-view): the platforms (pause, resume), the
// pending pairing requests (approve, deny), the scheduled jobs (pause,
// resume, run now, their runs), the recent errors and the metrics.
//
// Everything comes from endpoints behind the key, through the shared
// window.hermodApi: /api/platforms, /api/pairing, /api/jobs and
// /api/overview. The view refreshes every 5 s while it is shown (and the
// tab is visible), and at once after each action.
(function () {
  'use strict';

  var REFRESH_MS = 5000;

  var state = {
    built: false,
    timer: null,
    // Bumped when the view is left: answers of an older round are dropped.
    round: 0,
    // Job ids whose runs are shown.
    open: {},
  };

  function $(id) {
    return document.getElementById(id);
  }

  // An element; `props` are set on it as they are (id, hidden, type...).
  function el(tag, className, text, props) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (props) Object.assign(node, props);
    return node;
  }

  // `parent` with `children` appended (nulls skipped).
  function add(parent, children) {
    children.forEach(function (child) {
      if (child) parent.appendChild(child);
    });
    return parent;
  }

  function api(path, options) {
    return window.hermodApi(path, options);
  }

  function shown() {
    return window.hermodView && window.hermodView() === 'dashboard';
  }

  // --- times and numbers --------------------------------------------------

  function when(ms) {
    if (ms === null || ms === undefined) return '';
    var diff = Math.round((ms - Date.now()) / 1000);
    var ahead = diff > 0;
    var secs = Math.abs(diff);
    var text;
    if (secs < 45) text = secs + ' s';
    else if (secs < 3600) text = Math.round(secs / 60) + ' min';
    else if (secs < 86400) text = Math.round(secs / 3600) + ' h';
    else text = Math.round(secs / 86400) + ' d';
    return ahead ? 'in ' + text : text + ' ago';
  }

  function timeCell(ms) {
    var node = el('time', null, when(ms));
    if (ms !== null && ms !== undefined) {
      var date = new Date(ms);
      node.dateTime = date.toISOString();
      node.title = date.toLocaleString();
    }
    return node;
  }

  function isoMs(iso) {
    if (!iso) return null;
    var ms = Date.parse(iso);
    return isNaN(ms) ? null : ms;
  }

  function duration(secs) {
    if (secs === null || secs === undefined) return 'unknown';
    var d = Math.floor(secs / 86400);
    var h = Math.floor((secs % 86400) / 3600);
    var m = Math.floor((secs % 3600) / 60);
    if (d) return d + ' d ' + h + ' h';
    if (h) return h + ' h ' + m + ' min';
    if (m) return m + ' min';
    return secs + ' s';
  }

  function seconds(value) {
    if (value === null || value === undefined) return '–';
    if (value < 1) return Math.round(value * 1000) + ' ms';
    return value.toFixed(value < 10 ? 2 : 1) + ' s';
  }

  // --- the frame ----------------------------------------------------------

  function card(title, children) {
    return add(el('section', 'card'), [el('h2', null, title)].concat(children));
  }

  function note(id) {
    return el('p', 'muted section-note', null, { id: id, hidden: true });
  }

  function build() {
    var view = $('dashboard-view');
    view.textContent = '';
    var banner = el('p', 'error banner', null, { id: 'dashboard-error', hidden: true });
    banner.setAttribute('role', 'alert');
    var head = add(el('tr'), ['Platform', 'State', 'Details', ''].map(function (title) {
      return el('th', null, title);
    }));
    var platforms = add(el('table', 'dash-table', null, { id: 'platforms' }), [
      add(el('thead'), [head]),
      el('tbody', null, null, { id: 'platforms-rows' }),
    ]);
    add(view, [
      banner,
      el('div', 'dash-summary', null, { id: 'dash-summary' }),
      card('Platforms', [platforms, note('platforms-note')]),
      card('Pairing requests', [
        el('ul', 'dash-list', null, { id: 'pairings' }),
        el('p', 'muted', 'No pending pairing requests.', { id: 'pairings-empty', hidden: true }),
        note('pairings-note'),
        codeForm(),
      ]),
      card('Scheduled jobs', [el('ul', 'dash-list', null, { id: 'jobs' }), note('jobs-note')]),
      card('Recent errors', [el('ul', 'dash-list errors', null, { id: 'errors' })]),
      card('Metrics', [el('table', 'dash-table metrics', null, { id: 'metrics' })]),
    ]);
    state.built = true;
  }

  // Approving by the code a user was given, as `hermod pairing approve`.
  function codeForm() {
    var platform = el('select', null, null, { id: 'pairing-platform' });
    platform.setAttribute('aria-label', 'Platform');
    var code = el('input', null, null, {
      id: 'pairing-code',
      type: 'text',
      placeholder: 'ABCD2345',
      autocomplete: 'off',
      spellcheck: false,
    });
    var submit = el('button', null, 'Approve', { type: 'submit' });
    var form = add(el('form', 'code-form', null, { id: 'pairing-code-form' }), [
      el('label', 'muted', 'Approve by code:', { htmlFor: 'pairing-code' }),
      platform,
      code,
      submit,
    ]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var value = code.value.trim();
      if (!value || !platform.value) return;
      var path = '/api/pairing/' + encodeURIComponent(platform.value) + '/' + encodeURIComponent(value) + '/approve';
      act(submit, path, function (answer) {
        code.value = '';
        return 'Approved ' + who(answer.user) + ' on ' + answer.platform + '.';
      });
    });
    return form;
  }

  function who(user) {
    if (!user) return 'the user';
    return user.user_name && user.user_name !== user.user_id ? user.user_name + ' (' + user.user_id + ')' : user.user_id;
  }

  // The banner above the view: an error, or (`done`) what an action did.
  function showError(message, done) {
    var banner = $('dashboard-error');
    if (!banner) return;
    banner.textContent = message || '';
    banner.hidden = !message;
    banner.classList.toggle('ok', !!done);
  }

  function setNote(id, message) {
    var node = $(id);
    node.textContent = message || '';
    node.hidden = !message;
  }

  // Runs an action (a POST) from `button`, then refreshes the view.
  async function act(button, path, done) {
    button.disabled = true;
    try {
      var answer = await api(path, { method: 'POST' });
      showError(done ? done(answer || {}) : 'Done.', true);
    } catch (e) {
      showError(e.message);
    } finally {
      button.disabled = false;
    }
    refresh();
  }

  // --- rows kept across refreshes ----------------------------------------

  // Brings `container`'s rows in line with `items`, in order: a row whose
  // key is still there is updated in place (so a button or a text being
  // read does not vanish under the reader every 5 s), new ones are made,
  // gone ones removed. Children without a key (placeholders) go.
  function reconcile(container, items, keyOf, create, update) {
    var existing = {};
    Array.prototype.slice.call(container.children).forEach(function (node) {
      if (node.dataset.key === undefined) node.remove();
      else existing[node.dataset.key] = node;
    });
    var previous = null;
    items.forEach(function (item) {
      var key = keyOf(item);
      var node = existing[key];
      if (node) {
        delete existing[key];
      } else {
        node = create(item);
        node.dataset.key = key;
      }
      node.item = item;
      update(node, item);
      var want = previous ? previous.nextSibling : container.firstChild;
      if (node !== want) container.insertBefore(node, want);
      previous = node;
    });
    Object.keys(existing).forEach(function (key) {
      existing[key].remove();
    });
  }

  // A button that runs `path(row.item)` as a POST from the row it is in.
  function rowButton(row, className, label, path, done) {
    var button = el('button', className, label);
    button.type = 'button';
    button.addEventListener('click', function () {
      act(button, path(row.item), function (answer) {
        return done(row.item, answer);
      });
    });
    return button;
  }

  function fill(node, children) {
    node.textContent = '';
    add(node, children);
  }

  // --- platforms ----------------------------------------------------------

  // Resuming helps a platform paused (by an operator or its breaker) or
  // waiting to reconnect; it starts the latter now.
  var RESUMABLE = { paused: true, reconnecting: true, degraded: true, stopped: true };

  function platformPath(p, action) {
    return '/api/platforms/' + encodeURIComponent(p.name) + '/' + action;
  }

  function createPlatform() {
    var row = el('tr', 'platform');
    row.parts = {
      name: el('td', 'name'),
      state: el('td', 'state'),
      detail: el('td', 'detail'),
      actions: el('td', 'actions'),
      note: el('span', 'muted', 'serves this page'),
    };
    row.parts.pause = rowButton(row, 'pause', 'Pause', function (p) {
      return platformPath(p, 'pause');
    }, function (p) {
      return p.name + ' is paused: it stays paused, across restarts too, until resumed.';
    });
    row.parts.resume = rowButton(row, 'resume', 'Resume', function (p) {
      return platformPath(p, 'resume');
    }, function (p, answer) {
      return answer.outcome === 'already_running' ? p.name + ' is running.' : p.name + ' is connecting now.';
    });
    add(row.parts.actions, [row.parts.note, row.parts.pause, row.parts.resume]);
    return add(row, [row.parts.name, row.parts.state, row.parts.detail, row.parts.actions]);
  }

  function updatePlatform(row, p) {
    row.className = 'platform state-' + p.state.replace(/\s+/g, '-');
    row.dataset.platform = p.name;
    row.parts.name.textContent = p.name;
    row.parts.state.textContent = p.state;
    // The state's sentence where it says more than its word, the
    // failures in a row, and since when.
    var detail = [];
    if (p.detail !== p.state && p.detail !== 'connected') detail.push(el('span', null, p.detail));
    if (p.failures > 0) detail.push(el('span', 'muted', p.failures + ' failures in a row'));
    if (p.since_ms) {
      var since = el('span', 'muted', 'since ');
      since.appendChild(timeCell(p.since_ms));
      detail.push(since);
    }
    fill(row.parts.detail, detail.map(function (part, i) {
      if (i) part.insertBefore(document.createTextNode(' · '), part.firstChild);
      return part;
    }));
    row.parts.note.hidden = !!p.controllable;
    row.parts.pause.hidden = !p.controllable || !!p.paused_by_operator || p.state === 'failed';
    row.parts.resume.hidden = !p.controllable || !(p.paused_by_operator || RESUMABLE[p.state]);
  }

  function renderPlatforms(platforms) {
    reconcile($('platforms-rows'), platforms, function (p) {
      return p.name;
    }, createPlatform, updatePlatform);
    // The platforms a code may be for; rebuilt only when they change, so
    // an open list is not closed under the reader.
    var names = platforms.filter(function (p) {
      return p.controllable;
    }).map(function (p) {
      return p.name;
    });
    var select = $('pairing-platform');
    if (select.dataset.names === names.join(' ')) return;
    select.dataset.names = names.join(' ');
    fill(select, names.map(function (name) {
      return el('option', null, name, { value: name });
    }));
  }

  // --- pairing ------------------------------------------------------------

  function pairingPath(p, action) {
    return '/api/pairing/' + encodeURIComponent(p.platform) + '/' + encodeURIComponent(p.id) + '/' + action;
  }

  function createPairing() {
    var item = el('li', 'pairing');
    item.parts = { what: el('div', 'what') };
    var approve = rowButton(item, 'approve primary', 'Approve', function (p) {
      return pairingPath(p, 'approve');
    }, function (p, answer) {
      return who(answer.user) + ' may talk to the agent on ' + p.platform + ' now.';
    });
    var deny = rowButton(item, 'deny', 'Deny', function (p) {
      return pairingPath(p, 'deny');
    }, function (p, answer) {
      return 'Refused ' + who(answer.user) + '.';
    });
    return add(item, [item.parts.what, add(el('div', 'actions'), [approve, deny])]);
  }

  function updatePairing(item, p) {
    item.dataset.platform = p.platform;
    item.dataset.code = p.id;
    fill(item.parts.what, [
      el('strong', null, who(p)),
      el('span', 'muted', ' on ' + p.platform + ' · asked '),
      timeCell(p.created_at_ms),
      el('span', 'muted', ' · expires '),
      timeCell(p.expires_at_ms),
    ]);
  }

  function renderPairings(pending) {
    $('pairings-empty').hidden = pending.length > 0;
    reconcile($('pairings'), pending, function (p) {
      return p.platform + '/' + p.id;
    }, createPairing, updatePairing);
  }

  // --- jobs ---------------------------------------------------------------

  function scheduleText(job) {
    if (job.schedule && job.schedule.display) return job.schedule.display;
    return job.schedule_display || '';
  }

  function jobPath(job, action) {
    return '/api/jobs/' + encodeURIComponent(job.id) + '/' + action;
  }

  function jobLabel(job) {
    return job.name || job.id;
  }

  function createJob() {
    var item = el('li', 'job');
    var parts = {
      what: el('div', 'what'),
      facts: el('div', 'facts muted'),
      error: el('div', 'error job-error'),
      actions: el('div', 'actions'),
      history: el('ul', 'history'),
      toggle: el('button', 'show-history', 'Runs', { type: 'button' }),
    };
    item.parts = parts;
    parts.pause = rowButton(item, 'pause', 'Pause', function (job) {
      return jobPath(job, 'pause');
    }, function (job) {
      return jobLabel(job) + ' paused.';
    });
    parts.resume = rowButton(item, 'resume', 'Resume', function (job) {
      return jobPath(job, 'resume');
    }, function (job) {
      return jobLabel(job) + ' resumed.';
    });
    parts.run = rowButton(item, 'run', 'Run now', function (job) {
      return jobPath(job, 'run');
    }, function (job) {
      return jobLabel(job) + ' runs within seconds; the run appears in its runs.';
    });
    parts.toggle.addEventListener('click', function () {
      var id = item.item.id;
      var open = !state.open[id];
      if (open) state.open[id] = true;
      else delete state.open[id];
      showHistory(item, open);
      if (open) loadHistory(id, parts.history, state.round);
    });
    add(parts.actions, [parts.pause, parts.resume, parts.run, parts.toggle]);
    return add(item, [parts.what, parts.facts, parts.error, parts.actions, parts.history]);
  }

  function showHistory(item, open) {
    item.parts.history.hidden = !open;
    item.parts.toggle.textContent = open ? 'Hide runs' : 'Runs';
    item.parts.toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
  }

  function updateJob(item, job) {
    var parts = item.parts;
    item.dataset.id = job.id;
    fill(parts.what, [
      el('strong', null, jobLabel(job)),
      el('span', 'muted', ' · ' + scheduleText(job)),
      el('span', 'job-state state-' + job.state, job.state),
    ]);
    var facts = job.next_run_at
      ? [el('span', null, 'next run '), timeCell(isoMs(job.next_run_at))]
      : [el('span', null, 'no next run')];
    if (job.last_run_at) {
      facts.push(el('span', null, ' · last run '));
      facts.push(timeCell(isoMs(job.last_run_at)));
      facts.push(el('span', 'last-status status-' + (job.last_status || 'none'), ' ' + (job.last_outcome || job.last_status || '')));
    }
    fill(parts.facts, facts);
    parts.error.textContent = job.last_error || '';
    parts.error.hidden = !job.last_error;
    parts.pause.hidden = !!job.paused;
    parts.resume.hidden = !job.paused;
    parts.run.disabled = !!job.paused || !!job.running;
    parts.run.title = job.paused ? 'Resume the job first.' : job.running ? 'It is running now.' : '';
    var open = !!state.open[job.id];
    showHistory(item, open);
    if (open) loadHistory(job.id, parts.history, state.round);
  }

  function renderJobs(jobs) {
    if (!jobs.length) setNote('jobs-note', 'No scheduled jobs. Ask the agent, or use /cron, to add one.');
    reconcile($('jobs'), jobs, function (job) {
      return job.id;
    }, createJob, updateJob);
  }

  async function loadHistory(id, list, round) {
    if (!list.childElementCount) list.appendChild(el('li', 'muted', 'Loading…'));
    try {
      var answer = await api('/api/jobs/' + encodeURIComponent(id) + '/runs?limit=10');
      if (round !== state.round) return;
      var runs = (answer && answer.runs) || [];
      var items = runs.map(function (run) {
        var item = el('li', 'run status-' + run.status);
        item.appendChild(timeCell(isoMs(run.started_at || run.scheduled_at)));
        item.appendChild(el('span', 'run-status', ' ' + run.status));
        var finished = isoMs(run.finished_at);
        var started = isoMs(run.started_at);
        if (finished && started) item.appendChild(el('span', 'muted', ' · took ' + duration(Math.round((finished - started) / 1000))));
        var text = run.error || run.output;
        if (text) item.appendChild(el('div', run.error ? 'error run-text' : 'muted run-text', text.length > 300 ? text.slice(0, 300) + '…' : text));
        return item;
      });
      if (!items.length) items.push(el('li', 'muted', 'No runs yet.'));
      fill(list, items);
    } catch (e) {
      if (round !== state.round) return;
      fill(list, [el('li', 'error', e.message)]);
    }
  }

  // --- overview -----------------------------------------------------------

  function renderSummary(overview) {
    var summary = $('dash-summary');
    summary.textContent = '';
    var health = el('span', overview.healthy ? 'health ok' : 'health bad', overview.healthy ? 'healthy' : 'unhealthy');
    summary.appendChild(health);
    summary.appendChild(el('span', null, 'hermod ' + overview.version));
    if (overview.uptime_secs !== null && overview.uptime_secs !== undefined) {
      summary.appendChild(el('span', null, 'up ' + duration(overview.uptime_secs)));
    }
    if (overview.phase) summary.appendChild(el('span', 'muted', overview.phase));
  }

  function renderErrors(errors) {
    var list = $('errors');
    list.textContent = '';
    if (!errors.length) {
      list.appendChild(el('li', 'muted', 'No recent errors.'));
      return;
    }
    errors.forEach(function (error) {
      var kind = error.source === 'delivery' ? 'delivery to ' + error.name : error.name;
      var head = add(el('div'), [
        el('strong', null, kind + ' '),
        timeCell(error.at_ms),
        error.current ? el('span', 'badge', 'ongoing') : null,
      ]);
      list.appendChild(add(el('li', 'error-item' + (error.current ? ' current' : '')), [
        head,
        el('div', 'error-message', error.message),
      ]));
    });
  }

  // The metrics, named and in an order a person reads them.
  var METRICS = [
    ['turns_answered', 'Turns answered'],
    ['turns_failed', 'Turns failed'],
    ['turns_stopped', 'Turns stopped'],
    ['turns_running', 'Turns running now'],
    ['session_workers', 'Active sessions'],
    ['turn_seconds_avg', 'Mean turn time', seconds],
    ['first_token_seconds_avg', 'Mean time to first text', seconds],
    ['model_calls', 'Model calls'],
    ['model_call_seconds_avg', 'Mean model call time', seconds],
    ['model_call_errors', 'Model call errors'],
    ['outbox_pending', 'Deliveries pending'],
    ['outbox_retried', 'Deliveries retried'],
    ['outbox_failed', 'Deliveries given up'],
    ['rate_limited', 'Rate limits hit'],
    ['inbound_duplicates', 'Duplicate messages dropped'],
  ];

  function renderMetrics(metrics) {
    reconcile($('metrics'), METRICS, function (metric) {
      return metric[0];
    }, function (metric) {
      var row = el('tr');
      row.dataset.metric = metric[0];
      row.appendChild(el('th', null, metric[1]));
      row.appendChild(el('td', 'value'));
      return row;
    }, function (row, metric) {
      var value = metrics[metric[0]];
      if (metric[2]) value = metric[2](value);
      else if (value === undefined || value === null) value = '–';
      row.lastChild.textContent = String(value);
    });
  }

  // --- refreshing ---------------------------------------------------------

  // One part of the view: its request, and what to do with the answer or
  // the error (shown in the part's own note, so one failing part leaves
  // the others readable).
  async function part(path, render, noteId, round) {
    try {
      var answer = await api(path);
      if (round !== state.round || !shown()) return;
      if (noteId) setNote(noteId, '');
      render(answer || {});
    } catch (e) {
      if (round !== state.round || !shown()) return;
      if (e.status === 401) return;
      if (noteId) setNote(noteId, e.message);
      else showError(e.message);
    }
  }

  async function refresh() {
    if (!shown()) return;
    clearTimeout(state.timer);
    var round = state.round;
    await Promise.all([
      part('/api/platforms', function (a) {
        renderPlatforms(a.platforms || []);
      }, 'platforms-note', round),
      part('/api/pairing', function (a) {
        renderPairings(a.pending || []);
      }, 'pairings-note', round),
      part('/api/jobs?include_disabled=true', function (a) {
        renderJobs(a.jobs || []);
      }, 'jobs-note', round),
      part('/api/overview', function (a) {
        renderSummary(a);
        renderErrors(a.errors || []);
        renderMetrics(a.metrics || {});
      }, null, round),
    ]);
    if (round !== state.round || !shown()) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(refresh, document.hidden ? REFRESH_MS * 2 : REFRESH_MS);
  }

  function start() {
    if (!state.built) build();
    stop();
    showError('');
    refresh();
  }

  function stop() {
    state.round += 1;
    clearTimeout(state.timer);
    state.timer = null;
  }

  document.addEventListener('hermod:view', function (event) {
    if (event.detail && event.detail.view === 'dashboard') start();
    else stop();
  });
  document.addEventListener('hermod:signout', function () {
    stop();
    state.open = {};
    state.built = false;
    $('dashboard-view').textContent = '';
  });
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && shown()) refresh();
  });
})();
