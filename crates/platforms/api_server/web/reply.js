// One streamed reply: a chat completion's event stream, read from a fetch
// body and shown as it arrives — the text rendered from Markdown (at most
// once a frame), the model's reasoning folded away and tool calls as lines
// above it, and approval requests as prompts whose buttons answer them
// with POST /v1/approvals/{id}.
//
// window.hermodReply.start(node, scroller) takes an assistant message
// element (with a `.content` child) and returns { read(response),
// finish(className, message) }: `read` consumes the response to its end;
// `finish` ends the reply early (stopped, failed) with a note. The
// message has class `streaming` until it ends.
(function () {
  'use strict';

  var CHOICE_LABELS = { once: 'Allow once', session: 'Allow for this chat', always: 'Always allow', deny: 'Deny' };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function toolLine(node, event) {
    var box = node.querySelector('.tools');
    if (!box) {
      box = el('div', 'tools');
      node.insertBefore(box, node.querySelector('.content'));
    }
    var id = event.tool_call_id || event.call_id || event.id || '';
    var line = id ? box.querySelector('[data-call="' + CSS.escape(id) + '"]') : null;
    if (!line) {
      line = el('div', 'tool');
      if (id) line.dataset.call = id;
      box.appendChild(line);
    }
    var status = event.status || '';
    line.className = 'tool ' + status;
    var preview = event.arguments_preview ? ' ' + event.arguments_preview : '';
    line.textContent =
      (event.tool || event.name || 'tool') + preview + (status && status !== 'started' ? ' (' + status + ')' : '');
  }

  function approvalPrompt(node, event) {
    var box = el('div', 'approval');
    box.dataset.requestId = event.request_id;
    box.appendChild(el('div', 'approval-title', 'Approval needed' + (event.tool ? ': ' + event.tool : '')));
    box.appendChild(el('div', 'approval-description', event.description || event.key || ''));
    var buttons = el('div', 'approval-buttons');
    (event.options || ['once', 'session', 'always', 'deny']).forEach(function (choice) {
      var button = el('button', choice === 'deny' ? 'deny' : 'allow', CHOICE_LABELS[choice] || choice);
      button.type = 'button';
      button.dataset.choice = choice;
      button.addEventListener('click', function () {
        answerApproval(box, choice);
      });
      buttons.appendChild(button);
    });
    box.appendChild(buttons);
    box.appendChild(el('div', 'approval-status'));
    node.appendChild(box);
    return box;
  }

  async function answerApproval(box, choice) {
    var buttons = box.querySelectorAll('button');
    Array.prototype.forEach.call(buttons, function (b) {
      b.disabled = true;
    });
    var status = box.querySelector('.approval-status');
    try {
      await window.hermodApi('/v1/approvals/' + encodeURIComponent(box.dataset.requestId), {
        method: 'POST',
        body: { choice: choice },
      });
      status.textContent =
        choice === 'deny' ? 'Denied.' : 'Approved (' + (CHOICE_LABELS[choice] || choice).toLowerCase() + ').';
      box.classList.add('answered', choice === 'deny' ? 'denied' : 'approved');
    } catch (e) {
      var gone = e.status === 409 || e.status === 404;
      status.textContent = gone ? 'This request was already answered or has timed out.' : e.message;
      if (gone) box.classList.add('answered');
      else
        Array.prototype.forEach.call(buttons, function (b) {
          b.disabled = false;
        });
    }
  }

  // Splits an event stream's text into events; returns the unfinished rest.
  function parseEvents(buffer, onEvent) {
    var parts = buffer.split(/\r?\n\r?\n/);
    var rest = parts.pop();
    parts.forEach(function (raw) {
      var name = 'message';
      var data = [];
      raw.split(/\r?\n/).forEach(function (line) {
        if (line.indexOf('event:') === 0) name = line.slice(6).trim();
        else if (line.indexOf('data:') === 0) data.push(line.slice(5).replace(/^ /, ''));
      });
      if (data.length) onEvent(name, data.join('\n'));
    });
    return rest;
  }

  function start(node, scroller) {
    var content = node.querySelector('.content');
    var text = '';
    var pending = false;
    var ended = false;
    node.classList.add('streaming');

    function atBottom() {
      return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    }

    function paint() {
      pending = false;
      var stick = atBottom();
      content.innerHTML = window.hermodMarkdown.render(text);
      if (stick) scroller.scrollTop = scroller.scrollHeight;
    }

    function append(more) {
      text += more;
      if (!pending) {
        pending = true;
        requestAnimationFrame(paint);
      }
    }

    // The model's hidden reasoning, folded away above the answer.
    function think(more) {
      var box = node.querySelector('.reasoning');
      if (!box) {
        box = el('details', 'reasoning');
        box.appendChild(el('summary', '', 'Reasoning'));
        box.appendChild(el('div', 'reasoning-text'));
        node.insertBefore(box, content);
      }
      box.querySelector('.reasoning-text').textContent += more;
    }

    function finish(className, message) {
      if (ended) return;
      ended = true;
      paint();
      node.classList.remove('streaming');
      if (className) {
        node.classList.add(className);
        node.appendChild(el('div', 'note ' + className, message));
      }
    }

    function onEvent(name, data) {
      if (data === '[DONE]') return finish();
      var payload;
      try {
        payload = JSON.parse(data);
      } catch (e) {
        return;
      }
      if (name === 'hermes.approval.request') {
        var stick = atBottom();
        approvalPrompt(node, payload);
        if (stick) scroller.scrollTop = scroller.scrollHeight;
        return;
      }
      if (name === 'hermes.tool.progress') return toolLine(node, payload);
      if (payload.error) return finish('failed', payload.error.message || 'The reply failed.');
      var choice = payload.choices && payload.choices[0];
      if (!choice) return;
      var delta = choice.delta || {};
      if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) {
        think(delta.reasoning_content);
      }
      if (typeof delta.content === 'string' && delta.content) append(delta.content);
      if (choice.finish_reason === 'interrupted') finish('stopped', 'Reply interrupted.');
      else if (choice.finish_reason === 'length') finish('truncated', 'The reply reached its length limit.');
    }

    async function read(response) {
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = '';
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }), onEvent);
      }
      parseEvents(buffer + decoder.decode() + '\n\n', onEvent);
      finish();
    }

    return { read: read, finish: finish };
  }

  window.hermodReply = { start: start };
})();
