// The chat view: the conversation list (search, rename, delete), a
// conversation's messages, attachments, and sending, with the reply
// streamed in as it is written (reply.js).
//
// Each message is a streamed chat completion (`stream: true`) under the
// conversation's id in `X-Hermod-Session-Id`, so the server keeps the
// history and only the new message is sent. Stopping aborts the request;
// the server stops the turn when the connection goes. Slash commands are
// messages like any other: the gateway answers them. A tool's approval
// request arrives as a `hermes.approval.request` event and is answered
// with `POST /v1/approvals/{id}`.
(function () {
  'use strict';

  // Attachments: the server takes bodies up to 10 MiB, and a data: URL is a
  // third larger than its file.
  var MAX_ATTACHMENTS_BYTES = 6 * 1024 * 1024;
  var TEXT_TYPES = /^(text\/|application\/(json|xml|x-yaml|yaml|toml|javascript|x-sh|sql))/;
  var TEXT_NAMES = /\.(txt|md|markdown|csv|tsv|json|ya?ml|toml|ini|cfg|conf|log|xml|html?|css|js|ts|py|rs|go|java|c|h|cpp|hpp|rb|sh|sql|diff|patch)$/i;

  var state = {
    session: null, // the open conversation's id; null until a new one's first message
    controller: null, // the running reply's AbortController
    attachments: [], // {name, kind: 'image'|'text', data, size}
    loaded: false,
    searchTimer: null,
  };

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var md = function (text) {
    return window.hermodMarkdown.render(text);
  };

  // A session id in the gateway's own format: YYYYmmdd_HHMMSS_<8 hex>, UTC.
  function newSessionId() {
    var iso = new Date().toISOString(); // 2026-12-05T15:04:05.123Z
    var stamp = iso.slice(0, 10).replace(/-/g, '') + '_' + iso.slice(11, 19).replace(/:/g, '');
    var random = new Uint32Array(1);
    crypto.getRandomValues(random);
    return stamp + '_' + ('0000000' + random[0].toString(16)).slice(-8);
  }

  function showError(message) {
    var banner = $('chat-error');
    banner.textContent = message || '';
    banner.hidden = !message;
  }

  function scrollDown() {
    var box = $('messages');
    box.scrollTop = box.scrollHeight;
  }

  // ---- the conversation list ----

  function listOf(answer, field) {
    if (Array.isArray(answer)) return answer;
    if (!answer) return [];
    return answer.data || answer[field] || [];
  }

  function titleOf(session) {
    return session.title || session.preview || session.id;
  }

  async function loadSessions() {
    var query = $('session-search').value.trim();
    var note = $('session-note');
    try {
      // The API's own conversations: other platforms' sessions cannot be
      // continued from here.
      var path = '/api/sessions?platform=api_server' + (query ? '&q=' + encodeURIComponent(query) : '');
      var sessions = listOf(await window.hermodApi(path), 'sessions');
      var list = $('session-list');
      list.textContent = '';
      sessions.forEach(function (session) {
        list.appendChild(sessionItem(session));
      });
      note.textContent = sessions.length ? '' : query ? 'No conversation matches.' : 'No conversations yet.';
      note.hidden = sessions.length > 0;
    } catch (e) {
      if (e.status === 401) return;
      note.textContent = 'Cannot list conversations: ' + e.message;
      note.hidden = false;
    }
  }

  function sessionItem(session) {
    var item = el('li', 'session-item');
    item.dataset.id = session.id;
    item.tabIndex = 0;
    item.classList.toggle('active', session.id === state.session);
    var title = el('span', 'title', titleOf(session));
    title.title = titleOf(session);
    item.appendChild(title);
    var when = session.last_active || session.started_at;
    item.appendChild(el('span', 'when', when ? formatTime(when) : ''));
    var match = session.matches && session.matches[0];
    if (match && match.snippet) item.appendChild(snippet(match.snippet));
    var actions = el('span', 'item-actions');
    var rename = el('button', 'rename', 'Rename');
    rename.type = 'button';
    rename.addEventListener('click', function (event) {
      event.stopPropagation();
      renameSession(session);
    });
    var remove = el('button', 'delete', 'Delete');
    remove.type = 'button';
    remove.addEventListener('click', function (event) {
      event.stopPropagation();
      deleteSession(session);
    });
    actions.appendChild(rename);
    actions.appendChild(remove);
    item.appendChild(actions);
    item.addEventListener('click', function () {
      openSession(session.id);
    });
    item.addEventListener('keydown', function (event) {
      if (event.key === 'Enter') openSession(session.id);
    });
    return item;
  }

  // A search match, its matched words (between the store's `>>>` and
  // `<<<`) marked.
  function snippet(text) {
    var line = el('span', 'snippet');
    text.split(/(>>>[\s\S]*?<<<)/).forEach(function (piece) {
      var hit = /^>>>([\s\S]*)<<<$/.exec(piece);
      line.appendChild(hit ? el('mark', '', hit[1]) : document.createTextNode(piece));
    });
    return line;
  }

  // Seconds or milliseconds since the epoch, or an ISO string.
  function formatTime(value) {
    var date;
    if (typeof value === 'number') date = new Date(value > 1e12 ? value : value * 1000);
    else date = new Date(value);
    if (isNaN(date.getTime())) return '';
    var today = new Date();
    return date.toDateString() === today.toDateString()
      ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      : date.toLocaleDateString();
  }

  async function renameSession(session) {
    var title = window.prompt('New title for this conversation:', session.title || '');
    if (title === null) return;
    try {
      await window.hermodApi('/api/sessions/' + encodeURIComponent(session.id), {
        method: 'PATCH',
        body: { title: title.trim() },
      });
      loadSessions();
    } catch (e) {
      showError('Cannot rename: ' + e.message);
    }
  }

  async function deleteSession(session) {
    if (!window.confirm('Delete "' + titleOf(session) + '" and its messages?')) return;
    try {
      await window.hermodApi('/api/sessions/' + encodeURIComponent(session.id), { method: 'DELETE' });
      if (state.session === session.id) newChat();
      loadSessions();
    } catch (e) {
      showError('Cannot delete: ' + e.message);
    }
  }

  function markActive() {
    Array.prototype.forEach.call(document.querySelectorAll('#session-list .session-item'), function (item) {
      item.classList.toggle('active', item.dataset.id === state.session);
    });
  }

  // ---- messages ----

  // The text and images of a message's content (a string or OpenAI parts).
  function partsOf(content) {
    if (typeof content === 'string') return { text: content, images: [] };
    var text = [];
    var images = [];
    (content || []).forEach(function (part) {
      if (part && part.type === 'text') text.push(part.text || '');
      else if (part && part.type === 'image_url' && part.image_url) images.push(part.image_url.url);
    });
    return { text: text.join('\n'), images: images };
  }

  function userMessage(text, images, files) {
    var node = el('div', 'message user');
    var content = el('div', 'content');
    if (text) content.appendChild(el('div', 'text', text));
    if (images.length || files.length) {
      var attached = el('div', 'attached');
      images.forEach(function (image) {
        var img = el('img', 'thumb');
        img.src = image.url;
        img.alt = image.name || 'image';
        attached.appendChild(img);
      });
      files.forEach(function (name) {
        attached.appendChild(el('span', 'file-chip', name));
      });
      content.appendChild(attached);
    }
    node.appendChild(content);
    $('messages').appendChild(node);
    return node;
  }

  function assistantMessage(text) {
    var node = el('div', 'message assistant');
    var content = el('div', 'content');
    content.innerHTML = md(text || '');
    node.appendChild(content);
    $('messages').appendChild(node);
    return node;
  }

  // Text files are sent inside the message as fenced blocks; shown back
  // as chips, not as their contents.
  var FILE_BLOCK = /\n*\[file: ([^\]\n]+)\]\n(`{3,})[^\n]*\n[\s\S]*?\n\2(?=\n|$)/g;

  function splitFiles(text) {
    var names = [];
    var rest = text.replace(FILE_BLOCK, function (_, name) {
      names.push(name);
      return '';
    });
    return { text: rest.trim(), files: names };
  }

  // Stored messages carry their text, and only a count of their images.
  function showHistory(messages) {
    var box = $('messages');
    box.textContent = '';
    messages.forEach(function (message) {
      var parts = partsOf(message.content);
      if (message.role === 'user') {
        var split = splitFiles(parts.text);
        var images = parts.images.map(function (url) {
          return { url: url };
        });
        var files = split.files.slice();
        for (var n = 0; n < (message.images || 0); n++) files.push('image');
        userMessage(split.text, images, files);
      } else if (message.role === 'assistant' && parts.text.trim()) {
        var node = assistantMessage(parts.text);
        if (message.finish_reason === 'interrupted') node.classList.add('stopped');
        else if (message.finish_reason === 'incomplete') node.classList.add('failed');
      }
    });
    scrollDown();
  }

  async function openSession(id) {
    if (state.controller) return;
    showError('');
    try {
      var answer = await window.hermodApi('/api/sessions/' + encodeURIComponent(id) + '/messages');
      state.session = id;
      markActive();
      showHistory(listOf(answer, 'messages'));
      $('composer').focus();
    } catch (e) {
      if (e.status !== 401) showError('Cannot open the conversation: ' + e.message);
    }
  }

  function newChat() {
    if (state.controller) return;
    state.session = null;
    $('messages').textContent = '';
    showError('');
    clearAttachments();
    markActive();
    $('composer').focus();
  }

  // ---- attachments ----

  function readFile(file, how) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () {
        resolve(reader.result);
      };
      reader.onerror = function () {
        reject(reader.error);
      };
      if (how === 'url') reader.readAsDataURL(file);
      else reader.readAsText(file);
    });
  }

  async function attach(files) {
    showError('');
    for (var i = 0; i < files.length; i++) {
      var file = files[i];
      var used = state.attachments.reduce(function (sum, a) {
        return sum + a.size;
      }, 0);
      if (used + file.size > MAX_ATTACHMENTS_BYTES) {
        showError(file.name + ' was not attached: a message carries at most 6 MB of files.');
        continue;
      }
      try {
        if (/^image\/(png|jpeg|gif|webp)$/.test(file.type)) {
          state.attachments.push({ name: file.name, kind: 'image', data: await readFile(file, 'url'), size: file.size });
        } else if (TEXT_TYPES.test(file.type) || TEXT_NAMES.test(file.name)) {
          state.attachments.push({ name: file.name, kind: 'text', data: await readFile(file, 'text'), size: file.size });
        } else {
          showError(file.name + ' was not attached: only images (PNG, JPEG, GIF, WebP) and text files can be sent.');
        }
      } catch (e) {
        showError('Cannot read ' + file.name + ': ' + e.message);
      }
    }
    showAttachments();
  }

  function showAttachments() {
    var box = $('attachments');
    box.textContent = '';
    state.attachments.forEach(function (a, index) {
      var chip = el('span', 'pending ' + a.kind);
      if (a.kind === 'image') {
        var img = el('img', 'thumb');
        img.src = a.data;
        img.alt = a.name;
        chip.appendChild(img);
      }
      chip.appendChild(el('span', 'name', a.name));
      var remove = el('button', 'remove', '×');
      remove.type = 'button';
      remove.title = 'Remove ' + a.name;
      remove.addEventListener('click', function () {
        state.attachments.splice(index, 1);
        showAttachments();
      });
      chip.appendChild(remove);
      box.appendChild(chip);
    });
  }

  function clearAttachments() {
    state.attachments = [];
    $('attach').value = '';
    showAttachments();
  }

  // The message's content: plain text, or parts when images are attached.
  function contentOf(text, attachments) {
    var full = text;
    attachments.forEach(function (a) {
      if (a.kind !== 'text') return;
      var fence = '```';
      while (a.data.indexOf(fence) >= 0) fence += '`';
      full += '\n\n[file: ' + a.name + ']\n' + fence + '\n' + a.data.replace(/\n$/, '') + '\n' + fence;
    });
    var images = attachments.filter(function (a) {
      return a.kind === 'image';
    });
    if (!images.length) return full;
    var parts = [];
    if (full.trim()) parts.push({ type: 'text', text: full });
    images.forEach(function (a) {
      parts.push({ type: 'image_url', image_url: { url: a.data } });
    });
    return parts;
  }

  // ---- sending and streaming ----

  function setStreaming(on) {
    $('stop').disabled = !on;
    $('send').disabled = on;
    $('new-chat').disabled = on;
  }

  // Renders the reply at most once a frame, however fast chunks come.
  async function send(event) {
    if (event) event.preventDefault();
    if (state.controller) return;
    var composer = $('composer');
    var text = composer.value.trim();
    var attachments = state.attachments.slice();
    if (!text && !attachments.length) return;
    showError('');
    var fresh = !state.session;
    if (fresh) state.session = newSessionId();
    var session = state.session;
    userMessage(
      text,
      attachments
        .filter(function (a) {
          return a.kind === 'image';
        })
        .map(function (a) {
          return { url: a.data, name: a.name };
        }),
      attachments
        .filter(function (a) {
          return a.kind === 'text';
        })
        .map(function (a) {
          return a.name;
        })
    );
    composer.value = '';
    clearAttachments();
    var reply = window.hermodReply.start(assistantMessage(''), $('messages'));
    scrollDown();
    var controller = new AbortController();
    state.controller = controller;
    setStreaming(true);
    var accepted = false;
    try {
      var response = await window.hermodApi('/v1/chat/completions', {
        method: 'POST',
        raw: true,
        signal: controller.signal,
        headers: { 'X-Hermod-Session-Id': session, Accept: 'text/event-stream' },
        body: { model: 'hermod', stream: true, messages: [{ role: 'user', content: contentOf(text, attachments) }] },
      });
      accepted = true;
      await reply.read(response);
    } catch (e) {
      if (e && e.name === 'AbortError') {
        reply.finish('stopped', 'Stopped.');
      } else if (e.status === 401) {
        reply.finish('failed', 'Not signed in.');
      } else {
        // Said once, under the reply it stands for.
        reply.finish('failed', e.message || String(e));
      }
    } finally {
      state.controller = null;
      setStreaming(false);
      // A new chat's refused first message created nothing: the next one
      // starts it afresh.
      if (fresh && accepted) nameSession(session, text, attachments);
      else if (fresh && state.session === session) state.session = null;
      composer.focus();
    }
  }

  // A new conversation is named after its first message, so the list
  // shows more than its id; renaming changes it.
  async function nameSession(session, text, attachments) {
    var title = text.split('\n')[0].trim();
    if (!title && attachments.length) title = attachments[0].name;
    if (title.length > 60) title = title.slice(0, 59).trim() + '…';
    if (title) {
      try {
        await window.hermodApi('/api/sessions/' + encodeURIComponent(session), { method: 'PATCH', body: { title: title } });
      } catch (e) {
        /* not stored (a stopped first message, or no store): listed by id */
      }
    }
    loadSessions();
  }

  function stop() {
    if (state.controller) state.controller.abort();
  }

  function setUp() {
    $('composer-form').addEventListener('submit', send);
    $('composer').addEventListener('keydown', function (event) {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) send(event);
    });
    $('stop').addEventListener('click', stop);
    $('new-chat').addEventListener('click', newChat);
    $('attach').addEventListener('change', function () {
      attach(Array.prototype.slice.call(this.files || []));
      this.value = '';
    });
    $('session-search').addEventListener('input', function () {
      clearTimeout(state.searchTimer);
      state.searchTimer = setTimeout(loadSessions, 250);
    });
    document.addEventListener('hermod:view', function (event) {
      if (event.detail.view !== 'chat') return;
      loadSessions();
      $('composer').focus();
    });
    document.addEventListener('hermod:signout', function () {
      stop();
      state.session = null;
      $('messages').textContent = '';
      $('session-list').textContent = '';
      clearAttachments();
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', setUp);
  else setUp();
})();
