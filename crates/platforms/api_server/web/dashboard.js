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

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
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

  function card(title, body, extra) {
    var section = el('section', 'card');
    var head = el('div', 'card-head');
    head.appendChild(el('h2', null, title));
    if (extra) head.appendChild(extra);
    section.appendChild(head);
    section.appendChild(body);
    return section;
  }

  function note(id) {
    var p = el('p', 'muted section-note');
    p.id = id;
    p.hidden = true;
    return p;
  }

  function build() {
    var view = $('dashboard-view');
    view.textContent = '';

    var banner = el('p', 'error banner');
    banner.id = 'dashboard-error';
    banner.setAttribute('role', 'alert');
    banner.hidden = true;
    view.appendChild(banner);

    var summary = el('div', 'dash-summary');
    summary.id = 'dash-summary';
    view.appendChild(summary);

    var platforms = el('table', 'dash-table');
    platforms.id = 'platforms';
    var head = el('tr');
    ['Platform', 'State', 'Details', ''].forEach(function (title) {
      head.appendChild(el('th', null, title));
    });
    platforms.appendChild(el('thead')).appendChild(head);
    platforms.appendChild(el('tbody')).id = 'platforms-rows';
    var wrap = el('div');
    wrap.appendChild(platforms);
    wrap.appendChild(note('platforms-note'));
    view.appendChild(card('Platforms', wrap));

    var pairings = el('ul', 'dash-list');
    pairings.id = 'pairings';
    var empty = el('p', 'muted', 'No pending pairing requests.');
    empty.id = 'pairings-empty';
    empty.hidden = true;
    var pairingWrap = el('div');
    pairingWrap.appendChild(pairings);
    pairingWrap.appendChild(empty);
    pairingWrap.appendChild(note('pairings-note'));
    pairingWrap.appendChild(codeForm());
    view.appendChild(card('Pairing requests', pairingWrap));

    var jobs = el('ul', 'dash-list');
    jobs.id = 'jobs';
    var jobsWrap = el('div');
    jobsWrap.appendChild(jobs);
    jobsWrap.appendChild(note('jobs-note'));
    view.appendChild(card('Scheduled jobs', jobsWrap));

    var errors = el('ul', 'dash-list errors');
    errors.id = 'errors';
    view.appendChild(card('Recent errors', errors));

    var metrics = el('table', 'dash-table metrics');
    metrics.id = 'metrics';
    view.appendChild(card('Metrics', metrics));

    state.built = true;
  }

  // Approving by the code a user was given, as `hermod pairing approve`.
  function codeForm() {
    var form = el('form', 'code-form');
    form.id = 'pairing-code-form';
    var label = el('label', 'muted', 'Approve by code:');
    label.htmlFor = 'pairing-code';
    var platform = el('select');
    platform.id = 'pairing-platform';
    platform.setAttribute('aria-label', 'Platform');
    var code = el('input');
    code.id = 'pairing-code';
    code.type = 'text';
    code.placeholder = 'ABCD2345';
    code.autocomplete = 'off';
    code.spellcheck = false;
    var submit = el('button', null, 'Approve');
    submit.type = 'submit';
    form.appendChild(label);
    form.appendChild(platform);
    form.appendChild(code);
    form.appendChild(submit);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var value = code.value.trim();
      if (!value || !platform.value) return;
      act(submit, '/api/pairing/' + encodeURIComponent(platform.value) + '/' + encodeURIComponent(value) + '/approve', function (answer) {
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

  function showError(message) {
    var banner = $('dashboard-error');
    if (!banner) return;
    banner.textContent = message || '';
    banner.hidden = !message;
    banner.classList.remove('ok');
  }

  function showDone(message) {
    var banner = $('dashboard-error');
    banner.textContent = message;
    banner.hidden = false;
    banner.classList.add('ok');
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
      showDone(done ? done(answer || {}) : 'Done.');
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
    children.forEach(function (child) {
      if (child) node.appendChild(child);
    });
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
    row.parts.actions.appendChild(row.parts.note);
    row.parts.actions.appendChild(row.parts.pause);
    row.parts.actions.appendChild(row.parts.resume);
    ['name', 'state', 'detail', 'actions'].forEach(function (name) {
      row.appendChild(row.parts[name]);
    });
    return row;
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
    var select = $('pairing-platform');
    var chosen = select.value;
    select.textContent = '';
    platforms.forEach(function (p) {
      if (!p.controllable) return;
      var option = el('option', null, p.name);
      option.value = p.name;
      select.appendChild(option);
    });
    if (chosen) select.value = chosen;
  }

  // --- pairing ------------------------------------------------------------

  function pairingPath(p, action) {
    return '/api/pairing/' + encodeURIComponent(p.platform) + '/' + encodeURIComponent(p.id) + '/' + action;
  }

  function createPairing() {
    var item = el('li', 'pairing');
    item.parts = { what: el('div', 'what'), actions: el('div', 'actions') };
    item.parts.actions.appendChild(
      rowButton(item, 'approve primary', 'Approve', function (p) {
        return pairingPath(p, 'approve');
      }, function (p, answer) {
        return who(answer.user) + ' may talk to the agent on ' + p.platform + ' now.';
      })
    );
    item.parts.actions.appendChild(
      rowButton(item, 'deny', 'Deny', function (p) {
        return pairingPath(p, 'deny');
      }, function (p, answer) {
        return 'Refused ' + who(answer.user) + '.';
      })
    );
    item.appendChild(item.parts.what);
    item.appendChild(item.parts.actions);
    return item;
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
      toggle: el('button', 'show-history', 'Runs'),
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
    parts.toggle.type = 'button';
    parts.toggle.setAttribute('aria-expanded', 'false');
    parts.history.hidden = true;
    parts.toggle.addEventListener('click', function () {
      var id = item.item.id;
      var open = !state.open[id];
      if (open) state.open[id] = true;
      else delete state.open[id];
      showHistory(item, open);
      if (open) loadHistory(id, parts.history, state.round);
    });
    [parts.pause, parts.resume, parts.run, parts.toggle].forEach(function (button) {
      parts.actions.appendChild(button);
    });
    [parts.what, parts.facts, parts.error, parts.actions, parts.history].forEach(function (part) {
      item.appendChild(part);
    });
    return item;
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
      var item = el('li', 'error-item' + (error.current ? ' current' : ''));
      item.appendChild(timeCell(error.at_ms));
      var kind = error.source === 'delivery' ? 'delivery to ' + error.name : error.name;
      item.appendChild(el('strong', null, ' ' + kind));
      if (error.current) item.appendChild(el('span', 'badge', 'now'));
      item.appendChild(el('div', 'error-message', error.message));
      list.appendChild(item);
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
