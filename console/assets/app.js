// LuaRoBot console: the page behind the JSON API under /api/. Plain
// JavaScript, no build step and nothing loaded from elsewhere. Everything a
// script or a user wrote reaches the page through textContent or checked
// attributes, never as HTML.
'use strict';

(() => {
  // ---- Text in Chinese and English, following the browser ----

  const I18N = {
    en: {
      'login.label': 'Admin token',
      'login.submit': 'Log in',
      'login.hint': 'The admin token is admin_token in luarobot.toml, or the one luarobot serve printed at start-up.',
      'login.wrong': 'Wrong admin token.',
      'login.throttled': 'Too many wrong tokens: wait a minute.',
      'logout': 'Log out',
      'tab.status': 'Status', 'tab.try': 'Try', 'tab.scripts': 'Scripts', 'tab.log': 'Log', 'tab.sessions': 'Sessions',
      'status.host': 'Host', 'status.version': 'Version', 'status.uptime': 'Uptime', 'status.mode': 'Mode',
      'status.plain': 'plain', 'status.aes': 'AES (encrypted)',
      'status.scripts': 'Scripts', 'status.dir': 'Folder', 'status.scriptsVersion': 'Version', 'status.files': 'Files',
      'status.registrations': 'Handlers', 'status.lastReload': 'Last reload', 'status.reloadOk': 'ok', 'status.reloadFailed': 'failed',
      'status.deliveries': 'Deliveries', 'status.total': 'Messages', 'status.retries': 'Retries', 'status.late': 'Late replies',
      'status.apiSends': 'Customer-service sends', 'status.failures': 'Failures', 'status.withheld': 'Withheld',
      'status.token': 'Access token', 'status.notConfigured': 'app_id / app_secret not set',
      'status.cached': 'Held', 'status.useUntil': 'Used until', 'status.fetches': 'Fetches', 'status.tokenFailures': 'Failures in a row',
      'status.retryAt': 'Next attempt', 'status.lastError': 'Last error', 'yes': 'yes', 'no': 'no',
      'try.user': 'User', 'try.placeholder': 'Message', 'try.send': 'Send', 'try.key': 'menu key', 'try.click': 'Click',
      'try.subscribe': 'Subscribe', 'try.location': 'Location', 'try.image': 'Image',
      'try.details': 'Last delivery', 'try.detailsHint': 'The log lines of the last message: the handler that answered, and any error.',
      'try.noReply': 'no reply (success)', 'try.later': 'sent later', 'try.cs': 'customer-service message',
      'try.clicked': 'clicked menu “{key}”', 'try.subscribed': 'followed the account', 'try.sentLocation': 'sent a location',
      'try.sentImage': 'sent an image', 'try.transfer': 'transferred to customer service {account}',
      'try.dialog': 'dialog {name} · step {step}', 'try.image.kind': 'Image', 'try.voice.kind': 'Voice', 'try.video.kind': 'Video',
      'try.failed': 'Not delivered: {error}',
      'scripts.hint': 'Save a script in your editor: the result of the reload shows here.',
      'scripts.history': 'Reloads', 'scripts.loadError': 'The scripts on disk do not load — the last good ones keep serving',
      'scripts.handlerError': 'Last handler error', 'scripts.registersNothing': 'registers nothing',
      'scripts.modules': 'Modules: {list}', 'scripts.when': 'When', 'scripts.result': 'Result', 'scripts.version': 'Version',
      'scripts.took': 'Took', 'scripts.counts': 'Scripts / handlers',
      'log.level': 'Level', 'log.all': 'all', 'log.live': 'live', 'log.reconnecting': 'reconnecting…',
      'sessions.placeholder': 'openid, e.g. console-me', 'sessions.lookup': 'Look up', 'sessions.session': 'Session',
      'sessions.dialog': 'Dialog in progress', 'sessions.noDialog': 'No dialog in progress.', 'sessions.delete': 'Delete',
      'sessions.confirm': 'Delete for good?', 'sessions.deleted': 'Session of {openid} deleted.',
      'error.network': 'The host did not answer: {error}',
    },
    zh: {
      'login.label': '管理令牌',
      'login.submit': '登录',
      'login.hint': '管理令牌即 luarobot.toml 中的 admin_token，或 luarobot serve 启动时打印的令牌。',
      'login.wrong': '管理令牌不正确。',
      'login.throttled': '错误次数过多，请一分钟后再试。',
      'logout': '退出',
      'tab.status': '状态', 'tab.try': '试用', 'tab.scripts': '脚本', 'tab.log': '日志', 'tab.sessions': '会话',
      'status.host': '主机', 'status.version': '版本', 'status.uptime': '运行时间', 'status.mode': '模式',
      'status.plain': '明文', 'status.aes': 'AES 加密',
      'status.scripts': '脚本', 'status.dir': '目录', 'status.scriptsVersion': '版本', 'status.files': '文件',
      'status.registrations': '处理器', 'status.lastReload': '最近重载', 'status.reloadOk': '成功', 'status.reloadFailed': '失败',
      'status.deliveries': '消息', 'status.total': '消息数', 'status.retries': '重试', 'status.late': '超时后回复',
      'status.apiSends': '客服消息', 'status.failures': '失败', 'status.withheld': '扣留',
      'status.token': 'Access token', 'status.notConfigured': '未设置 app_id / app_secret',
      'status.cached': '已持有', 'status.useUntil': '使用至', 'status.fetches': '获取次数', 'status.tokenFailures': '连续失败',
      'status.retryAt': '下次尝试', 'status.lastError': '最近错误', 'yes': '是', 'no': '否',
      'try.user': '用户', 'try.placeholder': '输入消息', 'try.send': '发送', 'try.key': '菜单 key', 'try.click': '点击',
      'try.subscribe': '关注', 'try.location': '位置', 'try.image': '图片',
      'try.details': '最近一次投递', 'try.detailsHint': '最近一条消息的日志：回复它的处理器，以及错误。',
      'try.noReply': '无回复（success）', 'try.later': '稍后发送', 'try.cs': '客服消息',
      'try.clicked': '点击菜单「{key}」', 'try.subscribed': '关注了公众号', 'try.sentLocation': '发送了位置',
      'try.sentImage': '发送了图片', 'try.transfer': '转接客服 {account}',
      'try.dialog': '对话 {name} · 第 {step} 步', 'try.image.kind': '图片', 'try.voice.kind': '语音', 'try.video.kind': '视频',
      'try.failed': '未送达：{error}',
      'scripts.hint': '在编辑器中保存脚本，重载结果会显示在这里。',
      'scripts.history': '重载记录', 'scripts.loadError': '磁盘上的脚本无法加载——仍在使用上一版正常的脚本',
      'scripts.handlerError': '最近的处理器错误', 'scripts.registersNothing': '未注册任何处理器',
      'scripts.modules': '模块：{list}', 'scripts.when': '时间', 'scripts.result': '结果', 'scripts.version': '版本',
      'scripts.took': '耗时', 'scripts.counts': '脚本 / 处理器',
      'log.level': '级别', 'log.all': '全部', 'log.live': '实时', 'log.reconnecting': '重新连接中…',
      'sessions.placeholder': 'openid，例如 console-me', 'sessions.lookup': '查询', 'sessions.session': '会话',
      'sessions.dialog': '进行中的对话', 'sessions.noDialog': '没有进行中的对话。', 'sessions.delete': '删除',
      'sessions.confirm': '确定删除？', 'sessions.deleted': '已删除 {openid} 的会话。',
      'error.network': '主机没有响应：{error}',
    },
  };
  const lang = /^zh\b/i.test((navigator.languages && navigator.languages[0]) || navigator.language || '') ? 'zh' : 'en';
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';

  function t(key, vars) {
    let s = I18N[lang][key] || I18N.en[key] || key;
    for (const [k, v] of Object.entries(vars || {})) s = s.split('{' + k + '}').join(String(v));
    return s;
  }

  function translatePage() {
    for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
    for (const e of document.querySelectorAll('[data-i18n-placeholder]')) e.placeholder = t(e.dataset.i18nPlaceholder);
    document.title = (lang === 'zh' ? 'LuaRoBot 控制台' : 'LuaRoBot console');
  }

  // ---- Small helpers ----

  const $ = (id) => document.getElementById(id);

  // el makes an element: props are properties (className, textContent,
  // href, ...); children are nodes or strings (as text).
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'dataset') Object.assign(e.dataset, v);
      else e[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // safeURL returns url when it is http(s), else null: a script's reply
  // cannot make a javascript: link.
  function safeURL(url) {
    return /^https?:\/\//i.test(String(url || '').trim()) ? String(url).trim() : null;
  }

  function link(url, label) {
    const href = safeURL(url);
    if (!href) return document.createTextNode(label);
    return el('a', { href, target: '_blank', rel: 'noopener noreferrer', textContent: label });
  }

  function fmtTime(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    return d.toLocaleString(lang === 'zh' ? 'zh-CN' : undefined, { hour12: false });
  }

  function clock(iso) {
    const d = new Date(iso);
    const p = (n, w) => String(n).padStart(w || 2, '0');
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds()) + '.' + p(d.getMilliseconds(), 3);
  }

  function fmtDuration(seconds) {
    const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600), m = Math.floor(seconds % 3600 / 60);
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    return m + 'm ' + (seconds % 60) + 's';
  }

  class HTTPError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // api calls the JSON API. A 401 shows the login form.
  async function api(method, path, body) {
    const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    if (res.status === 401 && path !== '/login') {
      showLogin();
      throw new HTTPError(401, 'unauthorized');
    }
    if (res.status === 204) return null;
    let data = null;
    try { data = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) throw new HTTPError(res.status, (data && data.error) || res.statusText);
    return data;
  }

  // ---- Login ----

  let started = false;

  // showLogin shows the login form; when the login ended under an open
  // page, it also stops the log stream and forgets the open panel, so that
  // logging in again makes every panel live again.
  function showLogin() {
    $('app').hidden = true;
    $('login').hidden = false;
    $('token').focus();
    stopLog();
    started = false;
    current = null;
    // The host may have restarted: its inbox numbers items from 1 again
    // (it answers an old cursor from its start), so ids seen say nothing.
    tryState.shown = new Set();
  }

  function showApp() {
    $('login').hidden = true;
    $('app').hidden = false;
    if (!started) {
      started = true;
      startLog();
    }
    route();
  }

  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const msg = $('login-error');
    msg.textContent = '';
    try {
      const res = await fetch('/login', {
        method: 'POST',
        headers: { Accept: 'application/json' },
        body: new URLSearchParams({ token: $('token').value }),
        credentials: 'same-origin',
      });
      if (res.ok) {
        $('token').value = '';
        showApp();
        return;
      }
      const data = await res.json().catch(() => ({}));
      msg.textContent = res.status === 429 ? t('login.throttled') : res.status === 401 ? t('login.wrong') : (data.error || res.statusText);
    } catch (e) {
      msg.textContent = t('error.network', { error: e.message });
    }
  });

  $('logout').addEventListener('click', async () => {
    await fetch('/logout', { method: 'POST', credentials: 'same-origin' }).catch(() => {});
    location.hash = '';
    location.reload();
  });

  // ---- Panels ----

  const panels = ['status', 'try', 'scripts', 'log', 'sessions'];
  let current = null;

  function route() {
    const want = location.hash.slice(1);
    const name = panels.includes(want) ? want : 'status';
    if (name === current) return;
    current = name;
    for (const p of panels) $('panel-' + p).hidden = p !== name;
    for (const a of document.querySelectorAll('#tabs a')) a.classList.toggle('active', a.dataset.panel === name);
    ({ status: openStatus, try: openTry, scripts: openScripts, log: openLog, sessions: () => {} })[name]();
  }
  window.addEventListener('hashchange', route);

  // poll runs step again and again while panel is shown; step returns a
  // promise (a long poll, or a pause). Opening the panel again starts a
  // new loop, and the old one ends after its step.
  const polling = {};
  function poll(panel, step) {
    const gen = (polling[panel] || 0) + 1;
    polling[panel] = gen;
    (async () => {
      while (current === panel && polling[panel] === gen && !$('app').hidden) {
        try {
          await step();
        } catch (e) {
          if (e.status === 401) break;
          await sleep(2000);
        }
      }
    })();
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // ---- Status ----

  function kv(rows) {
    const dl = el('dl', { className: 'kv' });
    for (const [k, v] of rows) dl.append(el('dt', { textContent: k }), el('dd', {}, v));
    return dl;
  }

  function renderStatus(s) {
    const box = $('status-cards');
    box.replaceChildren();
    const reload = s.scripts.last_reload;
    box.append(el('div', { className: 'card' }, el('h3', { textContent: t('status.host') }), kv([
      [t('status.version'), s.version],
      [t('status.uptime'), fmtDuration(s.uptime_seconds)],
      [t('status.mode'), s.mode === 'aes' ? t('status.aes') : t('status.plain')],
      ['Go', s.go],
    ])));
    box.append(el('div', { className: 'card' }, el('h3', { textContent: t('status.scripts') }), kv([
      [t('status.dir'), s.scripts.dir],
      [t('status.scriptsVersion'), String(s.scripts.version)],
      [t('status.files'), String(s.scripts.files)],
      [t('status.registrations'), String(s.scripts.registrations)],
      [t('status.lastReload'), reload
        ? el('span', { className: reload.ok ? 'ok' : 'error', title: reload.error || '' },
          (reload.ok ? t('status.reloadOk') : t('status.reloadFailed')) + ' · ' + fmtTime(reload.at))
        : '—'],
    ])));
    const d = s.deliveries;
    box.append(el('div', { className: 'card' }, el('h3', { textContent: t('status.deliveries') }), kv([
      [t('status.total'), String(d.total)], [t('status.retries'), String(d.retries)],
      [t('status.late'), String(d.late_replies)], [t('status.apiSends'), String(d.api_sends)],
      [t('status.failures'), String(d.failures)], [t('status.withheld'), String(d.withheld)],
    ])));
    const tk = s.access_token;
    const rows = tk.configured ? [
      [t('status.cached'), tk.cached ? t('yes') : t('no')],
      [t('status.useUntil'), fmtTime(tk.use_until)],
      [t('status.fetches'), String(tk.fetches)],
      [t('status.tokenFailures'), String(tk.failures)],
    ] : [[t('status.token'), t('status.notConfigured')]];
    if (tk.retry_at) rows.push([t('status.retryAt'), fmtTime(tk.retry_at)]);
    if (tk.last_error) rows.push([t('status.lastError'), el('span', { className: 'error', textContent: tk.last_error })]);
    box.append(el('div', { className: 'card' }, el('h3', { textContent: t('status.token') }), kv(rows)));
  }

  function openStatus() {
    poll('status', async () => {
      renderStatus(await api('GET', '/api/status'));
      await sleep(5000);
    });
  }

  // ---- Try ----

  // The chat of one console user: the inbox items shown (by id), the
  // cursor of the inbox's long poll, the try in flight.
  const tryState = { user: '', cursor: 0, shown: new Set(), inflight: null };

  function chatUser() {
    return 'console-' + ($('try-user').value.trim().replace(/^console-/, '') || 'me');
  }

  function scrollChat() {
    const c = $('chat');
    c.scrollTop = c.scrollHeight;
  }

  function note(text, cls) {
    $('chat').append(el('div', { className: 'note' + (cls ? ' ' + cls : ''), textContent: text }));
    scrollChat();
  }

  function outgoing(text) {
    $('chat').append(el('div', { className: 'msg out' }, el('div', { className: 'bubble', textContent: text })));
    scrollChat();
  }

  // renderText shows a text reply as WeChat does: line breaks kept, <a
  // href> tags and bare URLs as links, anything else as text.
  function renderText(text) {
    const box = el('div', { className: 'bubble' });
    const re = /<a\s[^>]*?href\s*=\s*(["'])(.*?)\1[^>]*>([\s\S]*?)<\/a>|(https?:\/\/[^\s<>"'）)]+)/gi;
    let last = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      box.append(text.slice(last, m.index));
      if (m[4]) box.append(link(m[4], m[4]));
      else box.append(link(m[2], m[3].replace(/<[^>]*>/g, '')));
      last = re.lastIndex;
    }
    box.append(text.slice(last));
    return box;
  }

  function image(url, alt) {
    const src = safeURL(url);
    return src ? el('img', { src, alt: alt || '', loading: 'lazy', referrerPolicy: 'no-referrer' }) : null;
  }

  function renderNews(articles) {
    const card = el('div', { className: 'news' });
    articles.forEach((a, i) => {
      const target = safeURL(a.url);
      const wrap = target ? el('a', { href: target, target: '_blank', rel: 'noopener noreferrer' }) : el('div');
      if (i === 0) {
        wrap.append(el('div', { className: 'news-cover' }, image(a.img, a.title), el('div', { className: 'title', textContent: a.title })));
        if (articles.length === 1 && a.description) wrap.append(el('div', { className: 'news-desc', textContent: a.description }));
      } else {
        wrap.className = 'news-item';
        wrap.append(el('div', { className: 'title', textContent: a.title }), el('div', { className: 'thumb' }, image(a.img, '')));
      }
      card.append(wrap);
    });
    return card;
  }

  function renderMusic(v) {
    const body = el('div', {}, el('div', { className: 'title', textContent: v.title || '♪' }),
      el('div', { className: 'desc', textContent: v.description || '' }));
    const card = el('div', { className: 'music' }, el('div', { className: 'icon', textContent: '♪' }), body);
    const href = safeURL(v.url);
    if (href) card.append(el('a', { href, target: '_blank', rel: 'noopener noreferrer', textContent: '▶' }));
    return card;
  }

  function renderMedia(kind, v) {
    return el('div', { className: 'media' }, el('div', { className: 'kind', textContent: t('try.' + kind + '.kind') + (v.title ? ' · ' + v.title : '') }),
      v.description ? el('div', { textContent: v.description }) : null,
      el('code', { textContent: 'media_id: ' + (v.media_id || '') }));
  }

  // incoming shows one message from the bot (a reply view); tag says how
  // it came (later, customer service).
  function incoming(v, tag) {
    if (v.type === 'success') {
      note(t('try.noReply'));
      return;
    }
    if (v.type === 'transfer_customer_service') {
      note(t('try.transfer', { account: v.account || '' }));
      return;
    }
    let body;
    switch (v.type) {
      case 'text': body = renderText(v.content || ''); break;
      case 'news': body = renderNews(v.articles || []); break;
      case 'music': body = renderMusic(v); break;
      case 'image': case 'voice': case 'video': body = renderMedia(v.type, v); break;
      default: body = el('div', { className: 'bubble', textContent: JSON.stringify(v) });
    }
    $('chat').append(el('div', { className: 'msg in', dataset: { type: v.type } }, tag ? el('div', { className: 'tag', textContent: tag }) : null, body));
    scrollChat();
  }

  function showItems(items, tag) {
    for (const it of items) {
      tryState.cursor = Math.max(tryState.cursor, it.id);
      if (tryState.shown.has(it.id)) continue;
      tryState.shown.add(it.id);
      incoming(it, tag);
    }
  }

  function send(req, echo) {
    const p = deliver(req, echo);
    tryState.inflight = p;
    p.finally(() => { if (tryState.inflight === p) tryState.inflight = null; });
    return p;
  }

  async function deliver(req, echo) {
    outgoing(echo);
    const user = chatUser();
    try {
      const ans = await api('POST', '/api/try', Object.assign({ user }, req));
      incoming(ans.reply);
      showItems(ans.sent, t('try.cs'));
      renderLog($('try-log'), ans.log, true);
    } catch (e) {
      if (e.status !== 401) note(t('try.failed', { error: e.message }), 'error');
    }
    refreshDialog(user);
  }

  async function refreshDialog(user) {
    const badge = $('try-dialog');
    try {
      const s = await api('GET', '/api/sessions/' + encodeURIComponent(user));
      const d = s.dialog;
      if (d && d.name) {
        const steps = (d.steps || []).filter((x) => x.kind !== 'once').length;
        badge.textContent = t('try.dialog', { name: d.name, step: steps + 1 });
        badge.hidden = false;
        return;
      }
    } catch (_) { /* no session: no dialog */ }
    badge.hidden = true;
  }

  function resetChat() {
    tryState.user = chatUser();
    tryState.cursor = 0;
    tryState.shown = new Set();
    $('chat').replaceChildren();
    $('try-log').replaceChildren();
    refreshDialog(tryState.user);
  }

  $('try-user').addEventListener('change', resetChat);
  $('try-text').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('try-content').value;
    if (!text.trim()) return;
    $('try-content').value = '';
    send({ type: 'text', content: text }, text);
  });
  $('try-click').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = $('try-key').value.trim();
    if (!key) return;
    send({ type: 'click', key }, t('try.clicked', { key }));
  });
  $('try-subscribe').addEventListener('click', () => send({ type: 'subscribe' }, t('try.subscribed')));
  $('try-location').addEventListener('click', () => send({ type: 'location' }, t('try.sentLocation')));
  $('try-image').addEventListener('click', () => send({ type: 'image' }, t('try.sentImage')));

  function openTry() {
    if (tryState.user !== chatUser()) resetChat();
    poll('try', async () => {
      const user = tryState.user;
      const ans = await api('GET', '/api/inbox/' + encodeURIComponent(user) + '?since=' + tryState.cursor + '&wait=20');
      // What a message in flight sends comes back in its answer, after
      // its reply: wait for it, so that only later messages are "later".
      while (tryState.inflight) await tryState.inflight.catch(() => {});
      if (user === tryState.user) showItems(ans.items, t('try.later'));
    });
  }

  // ---- Scripts ----

  function sourceBlock(lines, line) {
    const pre = el('div', { className: 'source' });
    for (const l of lines || []) {
      pre.append(el('div', { className: l.n === line ? 'here' : '' }, el('span', { className: 'n', textContent: l.n }), l.text));
    }
    return pre;
  }

  function errorBox(title, e, cls) {
    return el('div', { className: 'err-box ' + cls },
      el('h3', { textContent: title }),
      el('div', { className: 'where', textContent: e.error }),
      el('div', { className: 'hint', textContent: fmtTime(e.at) }),
      e.source && e.source.length ? sourceBlock(e.source, e.line) : null);
  }

  function renderScripts(s) {
    const errs = $('scripts-errors');
    errs.replaceChildren();
    if (s.load_error) errs.append(errorBox(t('scripts.loadError'), s.load_error, 'load'));
    if (s.handler_error) errs.append(errorBox(t('scripts.handlerError'), s.handler_error, 'handler'));

    const files = $('scripts-files');
    files.replaceChildren();
    for (const f of s.files) {
      const list = el('ul');
      for (const h of f.handlers) list.append(el('li', {}, el('code', { textContent: h.at }), el('code', { textContent: h.text })));
      if (!f.handlers.length) list.append(el('li', { className: 'hint', textContent: t('scripts.registersNothing') }));
      files.append(el('div', { className: 'card file', dataset: { file: f.file } }, el('h3', { textContent: f.file }), list));
    }
    if (s.modules.length) files.append(el('p', { className: 'hint', textContent: t('scripts.modules', { list: s.modules.join(', ') }) }));

    const table = $('scripts-reloads');
    table.replaceChildren(el('tr', {}, ...['scripts.when', 'scripts.result', 'scripts.version', 'scripts.counts', 'scripts.took']
      .map((k) => el('th', { textContent: t(k) }))));
    for (const r of s.reloads) {
      table.append(el('tr', {},
        el('td', { textContent: fmtTime(r.at) }),
        el('td', { className: r.ok ? 'ok' : 'error mono', textContent: r.ok ? t('status.reloadOk') : r.error }),
        el('td', { textContent: r.ok ? String(r.version) : '' }),
        el('td', { textContent: r.ok ? r.scripts + ' / ' + r.registrations : '' }),
        el('td', { textContent: r.took_ms.toFixed(1) + ' ms' })));
    }
  }

  let scriptsRev = '';
  function openScripts() {
    scriptsRev = '';
    poll('scripts', async () => {
      const path = scriptsRev ? '/api/scripts?wait=20&rev=' + encodeURIComponent(scriptsRev) : '/api/scripts';
      const s = await api('GET', path);
      scriptsRev = s.rev;
      renderScripts(s);
    });
  }

  // ---- Log ----

  const LEVELS = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 };
  const logEntries = [];
  const maxLogLines = 2000;

  function logLine(e) {
    const line = el('div', { className: 'line ' + e.level, dataset: { id: e.id } },
      el('span', { className: 'time', textContent: clock(e.time) + ' ' }),
      el('span', { className: 'lvl', textContent: e.level }), ' ', e.msg);
    for (const a of e.attrs || []) line.append(' ', el('span', { className: 'attr' }, el('b', { textContent: a.key + '=' }), a.value));
    return line;
  }

  function renderLog(box, entries, replace) {
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    if (replace) box.replaceChildren();
    for (const e of entries) box.append(logLine(e));
    if (atBottom || replace) box.scrollTop = box.scrollHeight;
  }

  function levelShown(e) {
    const min = $('log-level').value;
    return !min || LEVELS[e.level] >= LEVELS[min];
  }

  let logSource = null;
  let lastLogID = 0;

  function stopLog() {
    if (logSource) logSource.close();
    logSource = null;
  }

  function startLog() {
    const state = $('log-state');
    // The browser reconnects by itself, sending Last-Event-ID: no line is
    // lost or shown twice across a reconnect. A new stream (after a new
    // login) starts after the last line shown.
    stopLog();
    const es = new EventSource('/api/log/stream?since=' + lastLogID);
    logSource = es;
    es.addEventListener('open', () => { state.textContent = t('log.live'); state.classList.remove('bad'); });
    es.addEventListener('error', () => {
      state.textContent = t('log.reconnecting');
      state.classList.add('bad');
      if (es.readyState === EventSource.CLOSED) {
        // Refused (logged out?): ask the API, which shows the login form
        // on 401, and start again otherwise.
        api('GET', '/api/status').then(() => setTimeout(() => { started = false; showApp(); }, 2000), () => {});
      }
    });
    es.addEventListener('log', (ev) => {
      const e = JSON.parse(ev.data);
      lastLogID = e.id;
      logEntries.push(e);
      if (logEntries.length > maxLogLines) logEntries.splice(0, logEntries.length - maxLogLines);
      if (levelShown(e)) {
        const box = $('log-lines');
        renderLog(box, [e], false);
        while (box.childElementCount > maxLogLines) box.firstElementChild.remove();
      }
    });
  }

  $('log-level').addEventListener('change', () => renderLog($('log-lines'), logEntries.filter(levelShown), true));

  function openLog() {
    const box = $('log-lines');
    box.scrollTop = box.scrollHeight;
  }

  // ---- Sessions ----

  function jsonBlock(v) {
    return el('pre', { className: 'json', textContent: JSON.stringify(v, null, 2) });
  }

  async function lookup(openid) {
    const out = $('session-result');
    out.replaceChildren();
    try {
      const s = await api('GET', '/api/sessions/' + encodeURIComponent(openid));
      const del = el('button', { type: 'button', className: 'danger', textContent: t('sessions.delete') });
      del.addEventListener('click', async () => {
        if (!del.dataset.armed) {
          del.dataset.armed = '1';
          del.textContent = t('sessions.confirm');
          return;
        }
        try {
          await api('DELETE', '/api/sessions/' + encodeURIComponent(openid));
          out.replaceChildren(el('p', { className: 'ok', textContent: t('sessions.deleted', { openid }) }));
        } catch (e) {
          out.append(el('p', { className: 'error', textContent: e.message }));
        }
      });
      out.append(
        el('h3', { textContent: t('sessions.session') + ' · ' + s.openid }), jsonBlock(s.session),
        el('h3', { textContent: t('sessions.dialog') }), s.dialog ? jsonBlock(s.dialog) : el('p', { className: 'hint', textContent: t('sessions.noDialog') }),
        el('div', { className: 'session-actions' }, del));
    } catch (e) {
      if (e.status !== 401) out.append(el('p', { className: 'error', textContent: e.message }));
    }
  }

  $('session-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const openid = $('session-openid').value.trim();
    if (openid) lookup(openid);
  });

  // ---- Start ----

  translatePage();
  const failed = new URLSearchParams(location.search).get('login');
  if (failed) $('login-error').textContent = failed === '429' ? t('login.throttled') : t('login.wrong');
  fetch('/api/status', { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
    .then((res) => (res.ok ? showApp() : showLogin()), () => showLogin());
})();
