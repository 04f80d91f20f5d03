// A small, safe Markdown renderer for the chat: the whole text is
// HTML-escaped first, so nothing in it can become markup except what this
// file builds. Supports code fences, inline code, bold, italic,
// strikethrough, links (http, https and mailto only), images in data: URLs
// (the replies' own files), lists, headings, block quotes, rules and
// tables. An unclosed code fence runs to the end, so a reply renders
// sensibly while it streams.
(function () {
  'use strict';

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&#39;');
  }

  // `url` is already escaped; only these schemes become links.
  function safeHref(url) {
    var raw = url.replace(/&amp;/g, '&');
    return /^(https?:\/\/|mailto:)/i.test(raw) ? url : null;
  }

  var IMAGE_DATA = /^data:image\/(png|jpe?g|gif|webp);base64,[a-z0-9+/=\s]+$/i;

  function anchor(href, label) {
    return '<a href="' + href + '" target="_blank" rel="noopener noreferrer">' + label + '</a>';
  }

  function emphasis(text) {
    return text
      .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>')
      .replace(/(^|[^\w])__(?=\S)([\s\S]*?\S)__(?!\w)/g, '$1<strong>$2</strong>')
      .replace(/(^|[^*\w])\*(?=[^\s*])([^*]*?[^\s*])\*(?![*\w])/g, '$1<em>$2</em>')
      .replace(/(^|[^_\w])_(?=[^\s_])([^_]*?[^\s_])_(?![_\w])/g, '$1<em>$2</em>')
      .replace(/~~(?=\S)([\s\S]*?\S)~~/g, '<del>$1</del>');
  }

  // Inline markup of one escaped line (or a paragraph's lines).
  function inline(text) {
    var stash = [];
    function keep(html) {
      stash.push(html);
      return '\u0000' + (stash.length - 1) + '\u0000';
    }
    // Placeholders mark HTML kept aside; a NUL in the text itself must not
    // pass for one.
    text = text.replace(/\u0000/g, '\ufffd');
    text = text.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, function (_, ticks, code) {
      return keep('<code>' + code.replace(/^ (.*) $/, '$1') + '</code>');
    });
    // A URL or an image's alt text is an attribute: neither may hold a
    // placeholder, or the HTML kept aside would be restored inside it.
    text = text.replace(/!\[([^\]\u0000]*)\]\(([^)\s\u0000]+)\)/g, function (whole, alt, url) {
      return IMAGE_DATA.test(url) ? keep('<img src="' + url + '" alt="' + alt + '">') : whole;
    });
    text = text.replace(/\[([^\]]+)\]\(([^)\s\u0000]+)\)/g, function (whole, label, url) {
      var href = safeHref(url);
      return href ? keep(anchor(href, emphasis(label))) : whole;
    });
    text = text.replace(/\bhttps?:\/\/[^\s<\u0000]*[^\s<.,:;!?"')\]\u0000]/g, function (url) {
      // Escaped quotes and angle brackets end a bare link, as the
      // characters they stand for would.
      var cut = url.search(/&(quot|#39|lt|gt);?/);
      var rest = '';
      if (cut >= 0) {
        rest = url.slice(cut);
        url = url.slice(0, cut);
      }
      return keep(anchor(url, url)) + rest;
    });
    text = emphasis(text);
    // A link's label may hold inline code kept earlier: restore until no
    // placeholder is left (each pass opens one level).
    for (var depth = 0; depth < 4 && text.indexOf('\u0000') >= 0; depth++) {
      text = text.replace(/\u0000(\d+)\u0000/g, function (_, i) {
        return stash[Number(i)];
      });
    }
    return text;
  }

  var FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
  var HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
  var RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
  var QUOTE = /^ {0,3}&gt;\s?/;
  var ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
  var TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

  function cells(line) {
    var row = line.trim();
    if (row.charAt(0) === '|') row = row.slice(1);
    if (row.charAt(row.length - 1) === '|' && row.charAt(row.length - 2) !== '\\') row = row.slice(0, -1);
    return row.split(/(?<!\\)\|/).map(function (cell) {
      return cell.trim().replace(/\\\|/g, '|');
    });
  }

  function table(lines, i, out) {
    var head = cells(lines[i]);
    var aligns = cells(lines[i + 1]).map(function (spec) {
      var left = spec.charAt(0) === ':';
      var right = spec.charAt(spec.length - 1) === ':';
      return left && right ? 'center' : right ? 'right' : left ? 'left' : '';
    });
    function cell(tag, text, n) {
      var align = aligns[n] ? ' class="align-' + aligns[n] + '"' : '';
      return '<' + tag + align + '>' + inline(text) + '</' + tag + '>';
    }
    var html = '<div class="table-wrap"><table><thead><tr>';
    head.forEach(function (text, n) {
      html += cell('th', text, n);
    });
    html += '</tr></thead><tbody>';
    i += 2;
    while (i < lines.length && lines[i].trim() !== '' && lines[i].indexOf('|') >= 0) {
      var row = cells(lines[i]);
      html += '<tr>';
      for (var n = 0; n < head.length; n++) html += cell('td', row[n] || '', n);
      html += '</tr>';
      i++;
    }
    out.push(html + '</tbody></table></div>');
    return i;
  }

  function list(lines, i, out) {
    var first = ITEM.exec(lines[i]);
    var indent = first[1].length;
    var ordered = /\d/.test(first[2]);
    var items = [];
    var body = null;
    while (i < lines.length) {
      var line = lines[i];
      var m = ITEM.exec(line);
      if (m && m[1].length === indent && /\d/.test(m[2]) === ordered) {
        body = [m[3]];
        items.push(body);
      } else if (line.trim() === '') {
        // A blank line ends the list unless an indented line follows.
        var next = lines[i + 1];
        if (next === undefined || !(/^\s+\S/.test(next) || (ITEM.test(next) && ITEM.exec(next)[1].length >= indent))) break;
        body.push('');
      } else if (/^\s/.test(line) && line.search(/\S/) > indent) {
        body.push(line.replace(new RegExp('^\\s{0,' + (indent + 4) + '}'), ''));
      } else if (!m && body.length && body[body.length - 1] !== '' && !startsBlock(line)) {
        body.push(line); // a lazy continuation of the item's text
      } else {
        break;
      }
      i++;
    }
    var start = ordered ? parseInt(first[2], 10) : 1;
    var html = ordered ? (start !== 1 ? '<ol start="' + start + '">' : '<ol>') : '<ul>';
    items.forEach(function (item) {
      var inner = blocks(item);
      // A tight item: its one paragraph without the <p>.
      inner = inner.replace(/^<p>([\s\S]*?)<\/p>/, '$1');
      html += '<li>' + inner + '</li>';
    });
    out.push(html + (ordered ? '</ol>' : '</ul>'));
    return i;
  }

  function startsBlock(line) {
    return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);
  }

  // Block markup of escaped lines.
  function blocks(lines) {
    var out = [];
    var para = [];
    function flush() {
      if (para.length) out.push('<p>' + inline(para.join('\n')).replace(/\n/g, '<br>') + '</p>');
      para = [];
    }
    var i = 0;
    while (i < lines.length) {
      var line = lines[i];
      var m;
      if ((m = FENCE.exec(line))) {
        flush();
        var fence = m[1];
        var lang = m[2].replace(/[^\w+#.-]/g, '');
        var code = [];
        i++;
        while (i < lines.length && !(lines[i].trim().indexOf(fence) === 0 && lines[i].trim().replace(/[`~]/g, '') === '')) {
          code.push(lines[i]);
          i++;
        }
        i++; // the closing fence
        var cls = lang ? ' class="language-' + lang + '"' : '';
        out.push('<pre><code' + cls + '>' + code.join('\n') + '</code></pre>');
        continue;
      }
      if (line.trim() === '') {
        flush();
        i++;
        continue;
      }
      if ((m = HEADING.exec(line))) {
        flush();
        var level = m[1].length;
        out.push('<h' + level + '>' + inline(m[2]) + '</h' + level + '>');
        i++;
        continue;
      }
      if (RULE.test(line) && para.length === 0) {
        out.push('<hr>');
        i++;
        continue;
      }
      if (QUOTE.test(line)) {
        flush();
        var quoted = [];
        while (i < lines.length && lines[i].trim() !== '' && (QUOTE.test(lines[i]) || quoted.length)) {
          quoted.push(lines[i].replace(QUOTE, ''));
          i++;
        }
        out.push('<blockquote>' + blocks(quoted) + '</blockquote>');
        continue;
      }
      if (line.indexOf('|') >= 0 && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]) && lines[i + 1].indexOf('-') >= 0) {
        flush();
        i = table(lines, i, out);
        continue;
      }
      if (ITEM.test(line)) {
        flush();
        i = list(lines, i, out);
        continue;
      }
      para.push(line);
      i++;
    }
    flush();
    return out.join('');
  }

  function render(text) {
    var clean = String(text || '').replace(/\u0000/g, '').replace(/\r\n?/g, '\n');
    return blocks(escapeHtml(clean).split('\n'));
  }

  window.hermodMarkdown = { render: render, escapeHtml: escapeHtml };
})();
