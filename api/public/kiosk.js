/*
 * The kiosk page: a customer picks a card from the catalogue, confirms it, pays (cash, a credit,
 * debit or prepaid card, or at the store's register with a printed slip) and takes the card.
 * Plain browser JavaScript, no build step and nothing from the internet.
 *
 * Card payments: this page simulates the terminal's card reader and PIN pad. The card number and
 * PIN typed here go to one kiosk endpoint (POST /api/issuances/:id/card) that tokenises the number
 * and encrypts the PIN block at once, standing for what a real card reader / PIN pad does inside
 * the terminal; the page never stores them and clears them from the screen when sent.
 *
 * How it talks to the center (see api/routes/kiosk.ts):
 *   - one issuance (a Temporal workflow) per purchase, started when the customer first picks an
 *     item, so the hold timer does not run while they are still browsing;
 *   - every change is a POST carrying a fresh requestId, which the workflow uses as the Update id:
 *     a retry of the same request reuses its id and is answered once;
 *   - the page learns everything else (hold deadline, production steps, the end of the issuance)
 *     by polling the progress query.
 *
 * Layout of this file: helpers (DOM, money, API), state and navigation, the poller, then one
 * function per screen in the order the customer meets them.
 */
'use strict';

(() => {
  // ---------------------------------------------------------------------------------------------
  // Constants

  /** The page is served at /kiosk/:terminalId. */
  const TERMINAL_ID = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');

  const NOTES = [10000, 5000, 2000, 1000];
  const COINS = [500, 100, 50, 10];

  const POLL_FAST_MS = 300; // while the card is being made, so the bar moves with each step
  const POLL_SLOW_MS = 1000; // while the customer chooses: keeps the countdown honest, spots expiry
  const PAID_PAUSE_MS = 1000; // keep the cash screen up a moment so the customer reads their change
  const DONE_PAUSE_MS = 800; // show the full bar before "take your card"
  const IDLE_RESET_MS = 60000; // an end screen nobody touches goes back to the start
  const URGENT_MS = 15000; // the countdown turns red below this

  const LIVE_STAGES = ['selecting', 'selected', 'confirmed', 'paying'];
  const HANDED_OVER_STAGES = ['recording', 'notifying', 'completed'];
  const ENDED_STAGES = ['expired', 'cancelled', 'refunded', 'failed'];

  const STEPS = [
    { key: 'binding', label: 'Preparing a blank card' },
    { key: 'writing', label: 'Writing the IC chip' },
    { key: 'verifying', label: 'Checking the chip' },
    { key: 'printing', label: 'Printing the card face' },
    { key: 'dispensing', label: 'Dispensing your card' },
    { key: 'receipt', label: 'Printing your receipt' },
  ];

  const HEADINGS_BY_KIND = {
    card_type: 'What card would you like?',
    genre: 'Choose a genre',
    artist: 'Choose an artist',
    railway: 'Choose a railway',
    brand: 'Choose a brand',
  };

  /**
   * Extension points for kiosk-users.js (registered users: login, registration, my cards, renew,
   * autofill). They do nothing when that file is absent.
   */
  const hooks = {
    /** Headers for every request (the logged-in user's session). */
    authHeaders: () => ({}),
    /** The center refused the session (expired, or logged out elsewhere). */
    onUnauthorized: () => {},
    /** Extra content on the home screen (the member bar). */
    homeExtras: () => null,
    /** Extra content on the confirm screen (the pass holder, filled in from the registration). */
    confirmExtras: () => null,
    /** Whether a commuter route is the logged-in user's own (listed first and marked). */
    isMyRoute: () => false,
    /** An end screen was left alone: the next customer must not find someone still logged in. */
    onIdle: () => {},
  };

  // ---------------------------------------------------------------------------------------------
  // Small helpers

  const $ = (testId) => document.querySelector(`[data-testid="${testId}"]`);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  /** h('div', { class: 'x', testid: 'y', onclick: f }, child, 'text', …) → an element. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'testid') el.dataset.testid = value;
      else if (key === 'class') el.className = value;
      else if (key === 'style') el.style.cssText = value;
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else if (key === 'html') el.innerHTML = value; // only ever used with constant SVG markup
      else if (value === true) el.setAttribute(key, '');
      else el.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  /** ¥12,330 for yen (no minor unit); "12.50 USD" for currencies with cents. */
  function money(amountMinor, currency = 'JPY') {
    if (currency === 'JPY') return `¥${Number(amountMinor).toLocaleString('en-US')}`;
    return `${(amountMinor / 100).toFixed(2)} ${currency}`;
  }

  /**
   * "2027-03-14T18:00:00+09:00" → { date: 'Sun 14 Mar 2027', time: '18:00' }. Read from the
   * string itself: the time is the venue's local time as the promoter published it, whatever
   * time zone the kiosk's browser is set to.
   */
  function performanceTime(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})/.exec(String(iso));
    if (!m) return { date: String(iso), time: '' };
    const [, y, mo, d, hh, mm] = m;
    const day = new Date(Date.UTC(+y, +mo - 1, +d));
    const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][day.getUTCDay()];
    const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][+mo - 1];
    return { date: `${weekday} ${+d} ${month} ${y}`, time: `${hh}:${mm}` };
  }

  /**
   * A request id (8–64 of [A-Za-z0-9_-]). crypto.getRandomValues rather than randomUUID: the
   * latter exists only in secure contexts, and a kiosk may well load the page over plain HTTP
   * from the store's LAN.
   */
  function newRequestId() {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // ---------------------------------------------------------------------------------------------
  // The API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...hooks.authHeaders() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const err = (data && data.error) || {};
      if (res.status === 401 && ['session_expired', 'login_required'].includes(err.code)) hooks.onUnauthorized(err.code);
      throw new ApiError(res.status, err.code || `http_${res.status}`, err.message || `The center answered ${res.status}. Please try again.`);
    }
    return data;
  }

  /**
   * A change to the issuance. The request id is made once and reused by the retries, so a
   * request that reached the workflow but whose answer got lost is not applied twice (this is
   * what keeps a coin from being counted twice).
   */
  async function update(path, body = {}) {
    const requestId = newRequestId();
    for (let attempt = 1; ; attempt++) {
      try {
        return await api('POST', path, { requestId, ...body });
      } catch (err) {
        const transient = !(err instanceof ApiError) || [502, 503, 504].includes(err.status);
        if (!transient || attempt >= 3) throw err;
        await sleep(400 * attempt);
      }
    }
  }

  const issuancePath = (iss, action) => `/api/issuances/${encodeURIComponent(iss.id)}${action ? `/${action}` : ''}`;

  // ---------------------------------------------------------------------------------------------
  // State and navigation

  const state = {
    /** The screens the customer went through, for Back and the breadcrumb: { label, render }. */
    nav: [],
    /**
     * 'browse' (choosing; Back works), 'pay' (confirmed; only Cancel), 'produce' (paid; no way
     * out but the card or a refund), 'end' (an end screen).
     */
    phase: 'browse',
    /** The purchase under way: { id, pickerDepth, progress, item, cash, paidAt, handedOverAt, finished }. */
    issuance: null,
    /** A reload under way (docs/prepaid.md): { id, progress, queue }. */
    reload: null,
    /** Which screen is up (the poller decides what to do by it). */
    screen: 'loading',
    /** Epoch ms at which the hold lapses, while the customer is expected to act. */
    deadline: null,
    idleTimer: null,
  };

  /** Opens a new screen on top of the navigation stack. */
  function go(label, render) {
    state.nav.push({ label, render });
    return showTop();
  }

  function showTop() {
    clearError();
    renderChrome();
    return state.nav[state.nav.length - 1].render();
  }

  /** Back to an earlier screen; leaving the picker that started the purchase gives its hold back. */
  async function backTo(index) {
    if (state.phase !== 'browse' || index < 0 || index >= state.nav.length - 1) return;
    if (state.issuance && index < state.issuance.pickerDepth) await abandonIssuance();
    state.nav.length = index + 1;
    await showTop();
  }

  function resetToHome() {
    state.reload = null;
    if (state.issuance && !state.issuance.finished && state.phase !== 'produce') void abandonIssuance();
    state.issuance = null;
    state.deadline = null;
    state.phase = 'browse';
    state.nav = [];
    clearTimeout(state.idleTimer);
    return go('Home', () => screenCatalogue(null));
  }

  /** The breadcrumb, Back and Cancel follow the navigation stack and the phase. */
  function renderChrome() {
    const crumbs = $('breadcrumb');
    crumbs.replaceChildren();
    state.nav.forEach((entry, i) => {
      const last = i === state.nav.length - 1;
      const clickable = !last && state.phase === 'browse';
      if (i > 0) crumbs.append(h('span', { class: 'crumb-sep', 'aria-hidden': 'true' }, '›'));
      crumbs.append(
        h('button', { type: 'button', class: `crumb${last ? ' current' : ''}`, testid: `crumb-${i}`, disabled: !clickable, onclick: () => backTo(i) }, entry.label),
      );
    });
    $('back').hidden = !(state.phase === 'browse' && state.nav.length > 1);
    $('cancel').hidden = !((state.phase === 'browse' && state.nav.length > 1) || state.phase === 'pay');
  }

  /** Replaces the main area with a new screen. */
  function setScreen(name, ...children) {
    state.screen = name;
    const main = $('screen');
    main.dataset.screen = name;
    delete main.dataset.stage;
    main.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
    main.scrollTop = 0;
    return main;
  }

  function showError(message) {
    const banner = $('error-banner');
    banner.textContent = message;
    banner.hidden = false;
  }

  function clearError() {
    $('error-banner').hidden = true;
  }

  /** Runs a customer action with the screen blocked, so a double tap cannot send it twice. */
  async function busy(action) {
    document.body.classList.add('busy');
    try {
      await action();
    } catch (err) {
      showError(err.message);
    } finally {
      document.body.classList.remove('busy');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The issuance and its poller

  /** The purchase's workflow, started on the first pick; later picks on the same screen reuse it. */
  async function ensureIssuance() {
    const current = state.issuance;
    if (current && !current.finished && ['selecting', 'selected'].includes(current.progress?.stage)) return current;
    const body = await update(`/api/kiosk/${encodeURIComponent(TERMINAL_ID)}/issuances`);
    const iss = { id: body.issuanceId, pickerDepth: state.nav.length - 1, progress: body.progress, item: null, cash: null, paidAt: 0, handedOverAt: 0, finished: false };
    state.issuance = iss;
    state.deadline = body.progress.customerDeadline;
    poll(iss);
    return iss;
  }

  /** Ends a purchase the customer walked back out of (nothing paid yet): frees its hold now. */
  async function abandonIssuance() {
    const iss = state.issuance;
    state.issuance = null;
    state.deadline = null;
    if (!iss || iss.finished) return;
    iss.finished = true; // stops its poller
    try {
      await update(issuancePath(iss, 'cancel'));
    } catch {
      // Already over (e.g. the hold lapsed a moment ago): there is nothing left to give back.
    }
  }

  async function poll(iss) {
    if (state.issuance !== iss || iss.finished) return;
    try {
      iss.progress = await api('GET', issuancePath(iss));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) iss.progress = { stage: 'failed', message: 'This purchase could not be found any more. Please ask the staff for help.' };
      // Anything else (a network blip) is retried on the next tick.
    }
    if (state.issuance !== iss) return;
    advance(iss);
    const p = iss.progress;
    const fast = state.phase === 'produce' || state.phase === 'end' || !LIVE_STAGES.includes(p.stage);
    if (!iss.finished) setTimeout(() => poll(iss), fast ? POLL_FAST_MS : POLL_SLOW_MS);
  }

  /**
   * Moves the page along with the workflow. Choosing and paying are driven by the customer's
   * taps; from payment on, the workflow leads and the page follows it here.
   */
  function advance(iss) {
    const p = iss.progress;
    state.deadline = LIVE_STAGES.includes(p.stage) ? p.customerDeadline : null;
    if (ENDED_STAGES.includes(p.stage)) {
      iss.finished = true;
      screenEnded(iss);
      return;
    }
    if (state.screen === 'authorizing' && p.stage === 'confirmed' && p.payment && p.payment.state === 'choosing') {
      backToPaymentChoice(iss);
      return;
    }
    const inProduction = p.stage === 'producing' || HANDED_OVER_STAGES.includes(p.stage);
    if (!inProduction) return;
    state.phase = 'produce';
    if (state.screen === 'cash' && Date.now() - iss.paidAt < PAID_PAUSE_MS) return;
    if (state.screen !== 'production' && state.screen !== 'done') screenProduction(iss);
    if (state.screen === 'production') {
      updateProduction(iss);
      if (HANDED_OVER_STAGES.includes(p.stage)) {
        iss.handedOverAt = iss.handedOverAt || Date.now();
        if (Date.now() - iss.handedOverAt >= DONE_PAUSE_MS) screenDone(iss);
      }
    }
    if (state.screen === 'done') {
      updateDone(iss);
      if (p.stage === 'completed') iss.finished = true;
    }
  }

  /** The hold countdown in the top bar. */
  function tickCountdown() {
    const box = $('countdown');
    const live = state.deadline && (state.phase === 'browse' || state.phase === 'pay');
    box.hidden = !live;
    if (!live) return;
    const left = Math.max(0, state.deadline - Date.now());
    const seconds = Math.ceil(left / 1000);
    $('countdown-value').textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
    box.classList.toggle('urgent', left < URGENT_MS);
  }

  // ---------------------------------------------------------------------------------------------
  // Building blocks shared by screens

  function heading(title, subtitle) {
    return h('div', { class: 'heading' }, h('h1', {}, title), subtitle ? h('p', { class: 'subtitle' }, subtitle) : null);
  }

  function tile({ testid, title, detail, aside, image, onclick, disabled }) {
    return h(
      'button',
      { type: 'button', class: 'tile', testid, onclick, disabled },
      image ? h('img', { class: 'tile-image', src: image, alt: '' }) : null,
      h('span', { class: 'tile-text' }, h('span', { class: 'tile-title' }, title), detail ? h('span', { class: 'tile-detail' }, detail) : null),
      aside ? h('span', { class: 'tile-aside' }, aside) : null,
    );
  }

  const ICONS = {
    concert: '<svg viewBox="0 0 48 48"><path d="M18 34V10l22-4v24" fill="none" stroke="currentColor" stroke-width="3.5" stroke-linejoin="round"/><circle cx="13" cy="35" r="6" fill="currentColor"/><circle cx="35" cy="31" r="6" fill="currentColor"/></svg>',
    commuter: '<svg viewBox="0 0 48 48"><rect x="11" y="5" width="26" height="30" rx="6" fill="none" stroke="currentColor" stroke-width="3.5"/><path d="M11 21h26" stroke="currentColor" stroke-width="3.5"/><circle cx="18" cy="28" r="2.5" fill="currentColor"/><circle cx="30" cy="28" r="2.5" fill="currentColor"/><path d="M16 36l-5 8M32 36l5 8" stroke="currentColor" stroke-width="3.5" stroke-linecap="round"/></svg>',
    prepaid: '<svg viewBox="0 0 48 48"><rect x="4" y="10" width="40" height="28" rx="4" fill="none" stroke="currentColor" stroke-width="3.5"/><path d="M4 18h40" stroke="currentColor" stroke-width="5"/><path d="M10 30h12" stroke="currentColor" stroke-width="3.5" stroke-linecap="round"/></svg>',
  };

  /** Picks an icon for a card type by its name (the catalogue has no icon field). */
  function cardTypeIcon(name) {
    const n = name.toLowerCase();
    const key = /concert|ticket|event|music/.test(n) ? 'concert' : /commut|pass|rail|train/.test(n) ? 'commuter' : 'prepaid';
    return h('span', { class: `type-icon type-${key}`, html: ICONS[key], 'aria-hidden': 'true' });
  }

  function loadingScreen(name) {
    return setScreen(name, h('p', { class: 'muted loading' }, 'Loading…'));
  }

  // ---------------------------------------------------------------------------------------------
  // Screens: choosing

  /** Card types (root), then genre / artist / railway / brand levels, then products. */
  async function screenCatalogue(nodeId) {
    loadingScreen('catalogue');
    const raw = await api('GET', nodeId === null ? '/api/catalogue' : `/api/catalogue?parentId=${nodeId}`);
    const data = Array.isArray(raw) ? { nodes: raw, products: [] } : raw;
    const nodes = data.nodes || [];
    const products = data.products || [];
    // A level that holds just one product (one tour, one railway's pass) goes straight to its choices.
    if (nodes.length === 0 && products.length === 1) return screenProduct(products[0].id);

    const isRoot = nodeId === null;
    const title = isRoot ? 'Welcome! What card would you like?' : HEADINGS_BY_KIND[nodes[0]?.kind] || 'Choose';
    const nodeTiles = nodes.map((node) =>
      tile({
        testid: `node-${node.id}`,
        title: node.name,
        image: null,
        onclick: () => go(node.name, () => screenCatalogue(node.id)),
      }),
    );
    if (isRoot) nodeTiles.forEach((t, i) => t.prepend(cardTypeIcon(nodes[i].name)));
    const productTiles = products.map((p) =>
      tile({ testid: `product-${p.id}`, title: p.name, detail: p.issuerName, image: p.faceImage, onclick: () => go(p.name, () => screenProduct(p.id)) }),
    );
    const empty = nodeTiles.length + productTiles.length === 0 ? h('p', { class: 'muted' }, 'Nothing is on sale here right now.') : null;
    // Reloading a prepaid card the customer already has (docs/prepaid.md).
    const reloadTile = isRoot ? tile({ testid: 'reload-card', title: 'Reload my card', detail: 'Add value to your prepaid card', onclick: () => go('Reload', screenReloadAmount) }) : null;
    const collect = isRoot
      ? h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-secondary', testid: 'collect-replacement', onclick: () => go('Replacement card', screenPickupCode) }, 'Collect a replacement card'))
      : null;
    setScreen(
      'catalogue',
      heading(title, isRoot ? 'Tap a card type to begin.' : null),
      isRoot ? hooks.homeExtras() : null,
      h('div', { class: `tiles${isRoot ? ' tiles-large' : ''}` }, nodeTiles, productTiles, reloadTile),
      empty,
      isRoot ? h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-secondary', testid: 'my-card', onclick: () => go('My card', screenMyCard) }, 'Add an application to my card')) : null,
      collect,
    );
  }

  /** A replacement for a lost card: the pickup code from the card's issuer is the item (a reissue). */
  function screenPickupCode() {
    const code = h('input', { class: 'card-input', testid: 'pickup-code', autocomplete: 'off', autocapitalize: 'characters', placeholder: 'XXXX-XXXX-XXXX', maxlength: '20' });
    const submit = () => {
      const typed = code.value.trim();
      if (!typed) return showError('Please type the pickup code from your card\'s issuer.');
      return chooseItem({ kind: 'reissue', pickupCode: typed });
    };
    setScreen(
      'pickup-code',
      heading('Collect a replacement card', 'Type the pickup code your card\'s issuer gave you.'),
      h('div', { class: 'panel' }, code),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-primary btn-large', testid: 'pickup-submit', onclick: submit }, 'Continue')),
    );
  }

  /** A product's own choices: performances, routes or prepaid values. */
  async function screenProduct(productId) {
    loadingScreen('product');
    const product = await api('GET', `/api/products/${productId}`);
    if (product.type === 'concert') return screenPerformances(product);
    if (product.type === 'commuter') return screenRoutes(product);
    return screenPrepaidValues(product);
  }

  function screenPerformances(product) {
    const tiles = product.performances.map((perf) => {
      const when = performanceTime(perf.startsAt);
      return tile({
        testid: `performance-${perf.id}`,
        title: `${when.date}  ${when.time}`,
        detail: perf.venue,
        aside: 'Choose seat ›',
        // Short crumb (the venue is on the seat map's heading): the whole trail must fit one line.
        onclick: () => go(`${when.date.split(' ').slice(1, 3).join(' ')} ${when.time}`, () => screenSeatMap(product, perf)),
      });
    });
    const prices = product.seatClasses.map((c) => c.priceMinor);
    const from = prices.length ? ` · seats from ${money(Math.min(...prices), product.currency)}` : '';
    setScreen(
      'performances',
      heading('Choose a date and venue', `${product.name}${from}`),
      h('div', { class: 'tiles' }, tiles),
    );
  }

  /** The seat map: rows × seat numbers, coloured by price class; taken seats cannot be tapped. */
  async function screenSeatMap(product, perf) {
    loadingScreen('seats');
    const { seats } = await api('GET', `/api/performances/${perf.id}/seats`);
    const classIndex = new Map(product.seatClasses.map((c, i) => [c.code, i]));
    const mine = state.issuance?.item?.selection?.kind === 'seat' ? state.issuance.item.selection.seatId : null;

    const rows = new Map();
    for (const seat of seats) {
      const key = `${seat.section}\u0000${seat.row}`;
      if (!rows.has(key)) rows.set(key, { section: seat.section, row: seat.row, seats: [] });
      rows.get(key).seats.push(seat);
    }
    const sections = new Set(seats.map((s) => s.section));
    const free = seats.filter((s) => s.available).length;

    // A small hall gets bigger seats (easier to hit); a big one has to fit 20+ rows on the screen.
    const grid = h('div', { class: `seat-grid${rows.size <= 10 ? ' roomy' : ''}`, testid: 'seat-map' });
    let lastSection = null;
    for (const row of rows.values()) {
      if (sections.size > 1 && row.section !== lastSection) grid.append(h('div', { class: 'seat-section' }, row.section));
      lastSection = row.section;
      grid.append(
        h(
          'div',
          { class: 'seat-row' },
          h('span', { class: 'row-label' }, row.row),
          row.seats.map((seat, i) => {
            const button = seatButton(seat, classIndex.get(seat.classCode) ?? 0, seat.id === mine, product, perf);
            if (isAisle(i, row.seats.length)) button.classList.add('aisle');
            return button;
          }),
          h('span', { class: 'row-label' }, row.row),
        ),
      );
    }

    const legend = h(
      'div',
      { class: 'legend', testid: 'seat-legend' },
      product.seatClasses.map((c, i) => h('span', { class: 'legend-item' }, h('span', { class: `swatch cls-${i}` }), `${c.name} ${money(c.priceMinor, product.currency)}`)),
      h('span', { class: 'legend-item' }, h('span', { class: 'swatch taken' }), 'Taken'),
    );
    const when = performanceTime(perf.startsAt);
    setScreen(
      'seats',
      heading('Tap a seat', `${product.name} · ${when.date} ${when.time} · ${perf.venue} · ${free} of ${seats.length} seats free`),
      legend,
      h('div', { class: 'seat-map-wrap' }, h('div', { class: 'stage' }, 'STAGE'), grid),
    );
  }

  /** Two aisles splitting a long row roughly 3 : 4 : 3, so the map reads like a hall. */
  function isAisle(index, rowLength) {
    if (rowLength < 12) return false;
    const side = Math.round(rowLength * 0.28);
    return index === side || index === rowLength - side;
  }

  function seatButton(seat, classIdx, isMine, product, perf) {
    const label = `Row ${seat.row}, seat ${seat.number}`;
    const pickable = seat.available || isMine;
    return h(
      'button',
      {
        type: 'button',
        class: `seat cls-${classIdx}${pickable ? '' : ' taken'}${isMine ? ' mine' : ''}`,
        testid: `seat-${seat.id}`,
        'data-seat': `${seat.row}-${seat.number}`,
        'data-available': String(pickable),
        title: `${label} · ${money(seat.priceMinor, product.currency)}`,
        'aria-label': pickable ? `${label}, ${money(seat.priceMinor, product.currency)}` : `${label}, taken`,
        disabled: !pickable,
        onclick: () => chooseItem({ kind: 'seat', seatId: seat.id }, () => screenSeatMap(product, perf)),
      },
      String(seat.number),
    );
  }

  function screenRoutes(product) {
    const routes = [...product.routes].sort((a, b) => Number(hooks.isMyRoute(b)) - Number(hooks.isMyRoute(a)));
    const tiles = routes.map((route) => {
      const from = Math.min(...route.fares.map((f) => f.priceMinor));
      return tile({
        testid: `route-${route.id}`,
        title: `${route.origin} ⇄ ${route.destination}`,
        detail: `${hooks.isMyRoute(route) ? 'Your registered route · ' : ''}1 month from ${money(from, product.currency)}`,
        aside: 'Choose period ›',
        onclick: () => go(`${route.origin} – ${route.destination}`, () => screenFares(product, route)),
      });
    });
    setScreen('routes', heading('Choose your route', product.name), h('div', { class: 'tiles' }, tiles));
  }

  function screenFares(product, route) {
    const tiles = route.fares.map((fare) =>
      tile({
        testid: `fare-${fare.id}`,
        title: fare.months === 1 ? '1 month' : `${fare.months} months`,
        detail: `${route.origin} ⇄ ${route.destination}`,
        aside: money(fare.priceMinor, product.currency),
        onclick: () => chooseItem({ kind: 'fare', fareId: fare.id }),
      }),
    );
    setScreen('fares', heading('Choose the period', `${product.name} · ${route.origin} ⇄ ${route.destination}`), h('div', { class: 'tiles' }, tiles));
  }

  function screenPrepaidValues(product) {
    const tiles = product.values.map((v) =>
      tile({
        testid: `value-${v.id}`,
        title: `${money(v.valueMinor, product.currency)} card`,
        detail: v.priceMinor === v.valueMinor ? product.issuerName : `${product.issuerName} · ${money(v.valueMinor, product.currency)} of credit`,
        aside: money(v.priceMinor, product.currency),
        onclick: () => chooseItem({ kind: 'prepaid', valueId: v.id }),
      }),
    );
    setScreen('values', heading('Choose a value', product.name), h('div', { class: 'tiles' }, tiles));
  }

  /**
   * Holds the picked item. A seat another kiosk took a moment ago comes back as 409
   * item_unavailable: say so and redraw the map so the customer can pick another.
   */
  function chooseItem(selection, refresh) {
    return busy(async () => {
      try {
        const iss = await ensureIssuance();
        const { item } = await update(issuancePath(iss, 'select'), { selection });
        iss.item = item;
        iss.progress = { ...iss.progress, stage: 'selected' };
        await go('Confirm', screenConfirm);
      } catch (err) {
        if (!(err instanceof ApiError) || err.code !== 'item_unavailable') throw err;
        if (refresh) await refresh();
        showError(err.message);
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Screens: confirming and paying

  function priceRows(quote, feeLabel = 'Issuance fee') {
    return h(
      'dl',
      { class: 'price-table' },
      h('dt', {}, 'Price'),
      h('dd', { testid: 'price' }, money(quote.priceMinor, quote.currency)),
      h('dt', {}, feeLabel),
      h('dd', { testid: 'fee' }, money(quote.customerFeeMinor, quote.currency)),
      h('dt', { class: 'total' }, 'Total'),
      h('dd', { class: 'total', testid: 'total' }, money(quote.totalMinor, quote.currency)),
    );
  }

  function screenConfirm() {
    const item = state.issuance.item;
    const face = item.faceImage ? h('img', { class: 'card-face', src: item.faceImage, alt: `Card face of ${item.title}`, testid: 'face-image' }) : h('div', { class: 'card-face placeholder', testid: 'face-image' }, item.title);
    setScreen(
      'confirm',
      heading('Please check your card', 'Tap Confirm to go on to payment, or Back to change your choice.'),
      h(
        'div',
        { class: 'panel confirm-panel' },
        face,
        h(
          'div',
          { class: 'confirm-details' },
          h('h2', { testid: 'item-title' }, item.title),
          h('ul', { class: 'item-lines', testid: 'item-lines' }, item.lines.filter((l) => l !== item.title).map((l) => h('li', {}, l))),
          h('p', { class: 'muted' }, `Issued by ${item.issuerName}`),
          item.applications && item.applications.length ? h('p', { class: 'muted', testid: 'item-applications' }, `Chip applications: ${item.applications.map((a) => a.name).join(', ')}`) : null,
          priceRows(item.quote, item.selection && item.selection.kind === 'reissue' ? 'Reissue fee' : undefined),
          hooks.confirmExtras(item),
        ),
      ),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-primary btn-large', testid: 'confirm', onclick: confirmItem }, 'Confirm')),
    );
  }

  function confirmItem() {
    return busy(async () => {
      const iss = state.issuance;
      iss.progress = await update(issuancePath(iss, 'confirm'));
      state.deadline = iss.progress.customerDeadline;
      // Nothing to pay (a replacement card with no fee): the workflow goes straight to making it.
      if (iss.item.quote.totalMinor === 0) return screenProduction(iss);
      state.phase = 'pay';
      await go('Payment', screenPayment);
    });
  }

  const PAYMENT_METHODS = [
    { method: 'cash', title: 'Cash', detail: 'Notes and coins' },
    { method: 'credit', title: 'Credit card', detail: 'Insert or tap your card' },
    { method: 'debit', title: 'Debit card', detail: 'Card and PIN' },
    { method: 'prepaid', title: 'Prepaid card', detail: 'Prepaid company card' },
    { method: 'register', title: 'Pay at the register', detail: 'Print a slip, pay at the counter' },
  ];

  /** Test cards of the demo payment companies (demo/payment-hosts.ts), offered by the simulated reader. */
  const TEST_CARDS = {
    credit: [
      { pan: '4111111111111111', label: 'Sakura Card · approves' },
      { pan: '4000000000000002', label: 'Sakura Card · declined (05)' },
      { pan: '4000000000000101', label: 'Sakura Card · no answer' },
    ],
    debit: [
      { pan: '4902123456789018', label: 'Midori Bank · PIN 1234' },
      { pan: '4902000000000018', label: 'Midori Bank · PIN 1234, ¥500 balance' },
    ],
    prepaid: [
      { pan: '6370000000000014', label: 'Hoshi Prepaid · ¥5,000' },
      { pan: '6370000000000022', label: 'Hoshi Prepaid · ¥100' },
    ],
  };

  function screenPayment() {
    const iss = state.issuance;
    const quote = iss.item.quote;
    const payment = iss.progress && iss.progress.payment;
    const tries = payment ? `Try ${payment.tries + 1} of ${payment.maxTries}` : null;
    setScreen(
      'payment',
      heading('How would you like to pay?', [`Total ${money(quote.totalMinor, quote.currency)}`, tries].filter(Boolean).join(' · ')),
      h(
        'div',
        { class: 'tiles' },
        PAYMENT_METHODS.map((m) => tile({ testid: `pay-${m.method}`, title: m.title, detail: m.detail, aside: '›', onclick: () => choosePayment(m.method) })),
      ),
    );
    if (payment && payment.lastDecline) showError(payment.lastDecline.message);
  }

  function choosePayment(method) {
    return busy(async () => {
      const iss = state.issuance;
      iss.progress = await update(issuancePath(iss, 'payment'), { method });
      iss.cash = iss.progress.cash;
      state.deadline = iss.progress.customerDeadline;
      if (method === 'cash') await go('Cash', screenCash);
      else if (method === 'register') await go('Slip', screenSlip);
      else await go(PAYMENT_METHODS.find((m) => m.method === method).title, () => screenCard(method));
    });
  }

  /**
   * The simulated card reader (and PIN pad for debit cards). On a real kiosk the customer inserts
   * the card and types the PIN on the terminal's PIN pad; here a test card is picked or a number typed.
   */
  function screenCard(method) {
    const iss = state.issuance;
    const quote = iss.item.quote;
    const needsPin = method === 'debit';
    const number = h('input', { class: 'card-input', testid: 'card-number', inputmode: 'numeric', autocomplete: 'off', placeholder: 'Card number', maxlength: '19' });
    number.addEventListener('input', () => (number.value = number.value.replace(/\D/g, '')));
    let pin = '';
    const pinShown = h('div', { class: 'pin-display', testid: 'pin-display', 'aria-label': 'PIN' }, '');
    const showPin = () => (pinShown.textContent = '●'.repeat(pin.length) || 'Enter PIN');
    const key = (label, testid, fn) => h('button', { type: 'button', class: 'pin-key', testid, onclick: fn }, label);
    const pad = needsPin
      ? h(
          'div',
          { class: 'pin-pad', testid: 'pin-pad' },
          pinShown,
          h(
            'div',
            { class: 'pin-keys' },
            ['1', '2', '3', '4', '5', '6', '7', '8', '9'].map((d) => key(d, `pin-${d}`, () => { if (pin.length < 12) pin += d; showPin(); })),
            key('Clear', 'pin-clear', () => { pin = ''; showPin(); }),
            key('0', 'pin-0', () => { if (pin.length < 12) pin += '0'; showPin(); }),
            key('⌫', 'pin-back', () => { pin = pin.slice(0, -1); showPin(); }),
          ),
        )
      : null;
    if (needsPin) showPin();
    const submit = () =>
      busy(async () => {
        const pan = number.value;
        if (!/^[0-9]{13,19}$/.test(pan)) throw new Error('Please insert a card (13 to 19 digits).');
        if (needsPin && !/^[0-9]{4,12}$/.test(pin)) throw new Error('Please enter your PIN (4 to 12 digits).');
        const body = needsPin ? { pan, pin } : { pan };
        // What was typed leaves the screen at once; only the last four digits are shown from here on.
        number.value = '';
        pin = '';
        iss.progress = await update(issuancePath(iss, 'card'), body);
        screenAuthorizing(iss);
      });
    setScreen(
      'card',
      heading(needsPin ? 'Insert your card and enter your PIN' : `Insert your ${method === 'prepaid' ? 'prepaid card' : 'card'}`, `Total ${money(quote.totalMinor, quote.currency)}`),
      h(
        'div',
        { class: 'panel card-reader', testid: 'card-reader' },
        h('p', { class: 'muted sim-note' }, 'Simulated card reader: this stands for the kiosk\'s card reader and PIN pad. The number and PIN are encrypted as soon as they are sent.'),
        h('div', { class: 'test-cards' }, (TEST_CARDS[method] || []).map((c) => h('button', { type: 'button', class: 'btn btn-secondary test-card', testid: `test-card-${c.pan}`, onclick: () => (number.value = c.pan) }, c.label))),
        number,
        pad,
      ),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-primary btn-large', testid: 'card-submit', onclick: submit }, needsPin ? 'Pay with PIN' : 'Pay')),
    );
  }

  /** "Checking your card": the poller moves on to production on approval, or back to the choice on a decline. */
  function screenAuthorizing(iss) {
    const last4 = iss.progress.payment && iss.progress.payment.last4;
    setScreen(
      'authorizing',
      heading('Checking your card…', last4 ? `Card ending ${last4}` : null),
      h('div', { class: 'panel' }, h('div', { class: 'spinner', 'aria-hidden': 'true' }), h('p', { class: 'muted center', testid: 'authorizing-message' }, 'Please wait and do not remove your card.')),
    );
  }

  /** Declined (or no answer): back to the payment choice, with the reason on the banner. */
  function backToPaymentChoice(iss) {
    const at = state.nav.findIndex((n) => n.label === 'Payment');
    if (at >= 0) state.nav.length = at + 1;
    state.phase = 'pay';
    renderChrome();
    screenPayment();
    const decline = iss.progress.payment && iss.progress.payment.lastDecline;
    showError((decline && decline.message) || iss.progress.message || 'The payment did not go through. Please choose how to pay.');
  }

  /** Pay at the register: the slip's number, amount and deadline; the poller follows the POS payment. */
  function screenSlip() {
    const iss = state.issuance;
    const quote = iss.item.quote;
    const slip = iss.progress.payment && iss.progress.payment.slip;
    const until = slip ? new Date(slip.expiresAt).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' }) : '';
    setScreen(
      'slip',
      heading('Please pay at the register', 'Take the printed slip to the store\'s register. Your card is made here as soon as you have paid.'),
      h(
        'div',
        { class: 'panel slip-panel' },
        h('p', { class: 'slip-label' }, 'Slip number'),
        h('p', { class: 'slip-number', testid: 'slip-number' }, slip ? slip.slipNumber.replace(/(\d{4})(\d{4})(\d{5})/, '$1 $2 $3') : ''),
        h('dl', { class: 'price-table' }, h('dt', {}, 'Amount'), h('dd', { testid: 'slip-amount' }, money(quote.totalMinor, quote.currency)), h('dt', {}, 'Pay by'), h('dd', { testid: 'slip-until' }, until)),
        h('p', { class: 'muted center', testid: 'slip-status' }, 'Waiting for your payment at the register…'),
      ),
    );
  }

  /** A simulated cash slot: one button per note and coin the cash unit accepts. */
  function screenCash() {
    const iss = state.issuance;
    const currency = iss.item.quote.currency;
    const denomination = (amount, kind) =>
      h('button', { type: 'button', class: `cash-btn ${kind}`, testid: `insert-${amount}`, onclick: () => insertCash(amount) }, money(amount, currency));
    setScreen(
      'cash',
      heading('Please insert cash', 'Tap a note or coin to put it into the slot.'),
      h(
        'div',
        { class: 'panel cash-panel' },
        h(
          'div',
          { class: 'cash-stats' },
          stat('To pay', 'cash-due', money(iss.cash.dueMinor, currency)),
          stat('Inserted', 'cash-inserted', ''),
          stat('Still to pay', 'cash-remaining', '', 'remaining'),
          stat('Change', 'cash-change', '', 'change'),
        ),
        h('p', { class: 'cash-message', testid: 'cash-message', 'aria-live': 'polite' }, ''),
      ),
      h(
        'div',
        { class: 'cash-slot', testid: 'cash-slot' },
        h('div', { class: 'slot-label' }, 'Notes'),
        h('div', { class: 'cash-row' }, NOTES.map((n) => denomination(n, 'note'))),
        h('div', { class: 'slot-label' }, 'Coins'),
        h('div', { class: 'cash-row' }, COINS.map((c) => denomination(c, 'coin'))),
      ),
    );
    renderCash(iss);
  }

  function stat(label, testid, value, kind) {
    return h('div', { class: `stat${kind ? ` stat-${kind}` : ''}` }, h('span', { class: 'stat-label' }, label), h('span', { class: 'stat-value', testid }, value));
  }

  function renderCash(iss) {
    if (state.screen !== 'cash') return;
    const { insertedMinor, remainingMinor, changeMinor } = iss.cash;
    const currency = iss.item.quote.currency;
    $('cash-inserted').textContent = money(insertedMinor, currency);
    $('cash-remaining').textContent = money(remainingMinor, currency);
    $('cash-change').textContent = money(changeMinor, currency);
    document.querySelector('.stat-change').hidden = changeMinor === 0;
    const paid = remainingMinor === 0;
    let message;
    if (paid && changeMinor > 0) message = `Thank you. Please take your change of ${money(changeMinor, currency)}.`;
    else if (paid) message = 'Thank you. Your card is being made.';
    else if (insertedMinor > 0) message = `Inserted ${money(insertedMinor, currency)}. Please insert ${money(remainingMinor, currency)} more.`;
    else message = `Please insert ${money(remainingMinor, currency)}.`;
    const msg = $('cash-message');
    msg.textContent = message;
    msg.classList.toggle('paid', paid);
    document.querySelectorAll('.cash-btn').forEach((b) => (b.disabled = paid));
  }

  /**
   * Each tap is one insertion. They go out one after another (in the order inserted) so the
   * amounts on screen always match what the workflow has counted.
   */
  function insertCash(amountMinor) {
    const iss = state.issuance;
    iss.cashQueue = (iss.cashQueue || Promise.resolve()).then(async () => {
      if (state.issuance !== iss || iss.cash.remainingMinor === 0) return;
      try {
        iss.cash = await update(issuancePath(iss, 'cash'), { amountMinor });
        clearError();
      } catch (err) {
        showError(err.message);
        return;
      }
      if (iss.cash.remainingMinor === 0) {
        // Paid: no more cancelling; the poller takes the page on to production shortly.
        iss.paidAt = Date.now();
        state.phase = 'produce';
        renderChrome();
        setTimeout(() => state.issuance === iss && advance(iss), PAID_PAUSE_MS);
      }
      renderCash(iss);
    });
  }

  /** Cancel before payment completes: the workflow releases the hold and returns any cash. */
  function cancelPurchase() {
    if (state.reload) return busy(() => update(`/api/reloads/${encodeURIComponent(state.reload.id)}/cancel`));
    if (!state.issuance || state.issuance.finished) return resetToHome();
    return busy(async () => {
      const iss = state.issuance;
      await update(issuancePath(iss, 'cancel'));
      state.phase = 'end';
      renderChrome();
      setScreen('cancelling', heading('Cancelling…', iss.cash?.insertedMinor ? 'Your cash is being returned.' : null));
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Screens: production and the end

  function screenProduction(iss) {
    state.phase = 'produce';
    state.nav.push({ label: 'Your card', render: null }); // for the breadcrumb only: there is no going back
    renderChrome();
    const change = iss.progress.cash?.changeMinor || 0;
    const currency = iss.item?.quote.currency || 'JPY';
    setScreen(
      'production',
      heading('Making your card', 'Please wait. Do not walk away from the kiosk.'),
      h(
        'div',
        { class: 'panel' },
        h(
          'div',
          { class: 'progress', testid: 'progress-bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0' },
          h('div', { class: 'progress-fill', testid: 'progress-fill' }),
        ),
        h('p', { class: 'progress-percent', testid: 'progress-percent' }, '0%'),
        h(
          'ol',
          { class: 'steps', testid: 'steps' },
          STEPS.map((s) => h('li', { class: 'step', testid: `step-${s.key}`, 'data-state': 'todo' }, h('span', { class: 'step-mark', 'aria-hidden': 'true' }), s.label)),
        ),
        change > 0 ? h('p', { class: 'change-note', testid: 'production-change' }, `Your change of ${money(change, currency)} is in the tray below.`) : null,
      ),
    );
  }

  function updateProduction(iss) {
    const p = iss.progress;
    const handedOver = HANDED_OVER_STAGES.includes(p.stage);
    const percent = handedOver ? 100 : Math.max(0, Math.min(100, p.percent || 0));
    const bar = $('progress-bar');
    bar.setAttribute('aria-valuenow', String(percent));
    $('progress-fill').style.width = `${percent}%`;
    $('progress-percent').textContent = handedOver ? '100% · Done' : `${percent}%`;
    const current = handedOver ? STEPS.length : STEPS.findIndex((s) => s.key === p.step);
    STEPS.forEach((s, i) => {
      $(`step-${s.key}`).dataset.state = i < current ? 'done' : i === current ? 'current' : 'todo';
    });
  }

  function screenDone(iss) {
    const p = iss.progress;
    const currency = iss.item?.quote.currency || 'JPY';
    const change = p.cash?.changeMinor || 0;
    setScreen(
      'done',
      h(
        'div',
        { class: 'done' },
        h('div', { class: 'done-icon', 'aria-hidden': 'true', html: '<svg viewBox="0 0 48 48"><circle cx="24" cy="24" r="21" fill="currentColor"/><path d="M14 25l7 7 13-15" fill="none" stroke="#fff" stroke-width="4.5" stroke-linecap="round" stroke-linejoin="round"/></svg>' }),
        h('h1', { testid: 'done-title' }, 'Please take your card and receipt'),
        h('p', { class: 'done-item' }, iss.item?.title || ''),
        h('dl', { class: 'done-table' }, h('dt', {}, 'Card number'), h('dd', { testid: 'card-id' }, p.cardId || '')),
        change > 0 ? h('p', { class: 'change-note big', testid: 'done-change' }, `Don't forget your change: ${money(change, currency)}`) : null,
        h('p', { class: 'muted', testid: 'done-status' }, ''),
        h('button', { type: 'button', class: 'btn btn-primary btn-large', testid: 'done', onclick: resetToHome }, 'Done'),
        h('p', { class: 'ref', testid: 'issuance-ref', 'data-issuance-id': iss.id }, `Ref ${iss.id}`),
      ),
    );
    updateDone(iss);
    scheduleIdleReset();
  }

  function updateDone(iss) {
    const stage = iss.progress.stage;
    $('screen').dataset.stage = stage;
    $('done-status').textContent = stage === 'completed' ? 'Thank you for your purchase.' : 'Recording your purchase…';
  }

  const ENDINGS = {
    expired: 'Time ran out',
    cancelled: 'Purchase cancelled',
    refunded: 'Sorry, we could not make your card',
    failed: 'Sorry, something went wrong',
  };

  function screenEnded(iss) {
    if (state.screen === 'ended') return;
    const p = iss.progress;
    state.phase = 'end';
    state.deadline = null;
    renderChrome();
    const returned = (p.stage === 'expired' || p.stage === 'cancelled') && p.cash?.insertedMinor > 0;
    const currency = iss.item?.quote.currency || 'JPY';
    setScreen(
      'ended',
      h(
        'div',
        { class: `ended ended-${p.stage}` },
        h('h1', { testid: 'ended-title' }, ENDINGS[p.stage] || 'This purchase has ended'),
        h('p', { class: 'ended-message', testid: 'ended-message' }, p.message || (p.stage === 'failed' ? 'Please ask the staff for help.' : '')),
        returned ? h('p', { class: 'change-note big', testid: 'cash-returned' }, `Please take your ${money(p.cash.insertedMinor, currency)} from the tray.`) : null,
        h('button', { type: 'button', class: 'btn btn-primary btn-large', testid: 'restart', onclick: resetToHome }, 'Start again'),
        h('p', { class: 'ref', testid: 'issuance-ref', 'data-issuance-id': iss.id }, `Ref ${iss.id}`),
      ),
    );
    $('screen').dataset.stage = p.stage;
    scheduleIdleReset();
  }

  /** An end screen left alone goes back to the start for the next customer. */
  function scheduleIdleReset() {
    clearTimeout(state.idleTimer);
    const screen = state.screen;
    state.idleTimer = setTimeout(() => {
      if (state.screen !== screen) return;
      hooks.onIdle();
      resetToHome();
    }, IDLE_RESET_MS);
  }

  /** An issuance started elsewhere (a renewal from "my purchases") with its item held: on to Confirm. */
  function adoptIssuance(body) {
    // Its picker is the screen it was started from: Back from Confirm gives the hold back.
    const iss = { id: body.issuanceId, pickerDepth: state.nav.length, progress: body.progress, item: body.item, cash: null, paidAt: 0, handedOverAt: 0, finished: false };
    state.issuance = iss;
    state.deadline = body.progress.customerDeadline;
    poll(iss);
    return go('Confirm', screenConfirm);
  }

  /** What kiosk-users.js builds its screens with. */
  window.KioskCore = { hooks, TERMINAL_ID, h, api, update, ApiError, go, setScreen, heading, tile, busy, showError, clearError, money, state, resetToHome, renderChrome, adoptIssuance, newRequestId };

  // ---------------------------------------------------------------------------------------------
  // Reload of a prepaid card: amount → insert the card → cash → the value is written → card back

  const RELOAD_AMOUNTS = [1000, 2000, 3000, 5000, 10000];
  const RELOAD_ENDINGS = { completed: 'Your card has been reloaded', refused: 'This card cannot be reloaded', cancelled: 'Reload cancelled', expired: 'Time ran out', refunded: 'Sorry, your card could not be loaded' };

  function screenReloadAmount() {
    setScreen(
      'reload-amount',
      heading('How much would you like to add?', 'You will insert your card next, then pay in cash.'),
      h('div', { class: 'tiles' }, RELOAD_AMOUNTS.map((amount) => tile({ testid: `reload-${amount}`, title: money(amount), onclick: () => busy(() => startReload(amount)) }))),
    );
  }

  async function startReload(amountMinor) {
    const body = await update(`/api/kiosk/${encodeURIComponent(TERMINAL_ID)}/reloads`, { amountMinor });
    const rel = { id: body.reloadId, progress: body.progress, queue: Promise.resolve() };
    state.phase = 'pay';
    state.reload = rel;
    renderChrome();
    renderReload(rel);
    void pollReload(rel); // not awaited: the screen stays usable while the reload goes on
  }

  async function pollReload(rel) {
    for (;;) {
      await sleep(POLL_SLOW_MS / 2);
      if (state.reload !== rel) return;
      try {
        rel.progress = await api('GET', `/api/reloads/${encodeURIComponent(rel.id)}`);
      } catch (err) {
        showError(err.message);
        continue;
      }
      renderReload(rel);
      if (RELOAD_ENDINGS[rel.progress.stage]) return;
    }
  }

  function renderReload(rel) {
    const p = rel.progress;
    state.deadline = p.customerDeadline;
    if (RELOAD_ENDINGS[p.stage]) {
      state.reload = null;
      state.phase = 'end';
      renderChrome();
      setScreen(
        'reload-ended',
        h(
          'div',
          { class: `ended ended-${p.stage}` },
          h('h1', { testid: 'reload-title' }, RELOAD_ENDINGS[p.stage]),
          h('p', { class: 'ended-message', testid: 'reload-message' }, p.message || ''),
          p.cash?.changeMinor > 0 && p.stage === 'completed' ? h('p', { class: 'change-note big', testid: 'reload-change' }, `Don't forget your change: ${money(p.cash.changeMinor, p.currency)}`) : null,
          h('button', { type: 'button', class: 'btn btn-primary btn-large', testid: 'restart', onclick: resetToHome }, 'Done'),
          h('p', { class: 'ref', testid: 'reload-ref' }, `Ref ${rel.id}`),
        ),
      );
      $('screen').dataset.stage = p.stage;
      scheduleIdleReset();
      return;
    }
    if (p.stage === 'paying') {
      if (state.screen !== 'reload-cash') {
        const coin = (amount, kind) => h('button', { type: 'button', class: `cash-btn ${kind}`, testid: `insert-${amount}`, onclick: () => reloadCash(rel, amount) }, money(amount, p.currency));
        setScreen(
          'reload-cash',
          heading(`Add ${money(p.amountMinor, p.currency)} to card ${p.cardId}`, `Balance now ${money(p.balanceBeforeMinor, p.currency)}; after the reload ${money(p.balanceAfterMinor, p.currency)}.`),
          h('p', { class: 'cash-message', testid: 'reload-cash-message', 'aria-live': 'polite' }, ''),
          h('div', { class: 'cash-slot', testid: 'cash-slot' }, h('div', { class: 'cash-row' }, NOTES.map((n) => coin(n, 'note'))), h('div', { class: 'cash-row' }, COINS.map((c) => coin(c, 'coin')))),
        );
      }
      $('reload-cash-message').textContent = p.message || '';
      return;
    }
    if (p.stage !== 'paying' && state.phase === 'pay' && p.stage !== 'reading') {
      state.phase = 'produce';
      renderChrome();
    }
    const headings = { reading: ['Please insert your card', 'Put your prepaid card into the reload slot.'], writing: ['Loading your card…', 'Please do not remove your card.'], recording: ['Almost done', 'Please take your card and receipt.'] };
    const [title, sub] = headings[p.stage] || ['Please wait', null];
    if (state.screen !== `reload-${p.stage}`) setScreen(`reload-${p.stage}`, heading(title, sub), p.stage === 'reading' ? insertMyCard(null) : null);
  }

  /**
   * "Insert my card" on an emulated kiosk: the card (by the number printed on it) goes into the
   * customer card slot (api/routes/kiosk-customer-card.ts). `cardId` null: the customer types it.
   * A kiosk with a real slot answers that the card goes in by hand.
   */
  function insertMyCard(cardId) {
    const input = cardId ? null : h('input', { class: 'card-number', testid: 'insert-card-id', autocomplete: 'off', placeholder: 'C0123456789AB', maxlength: '13' });
    const insert = () =>
      busy(async () => {
        const id = cardId || input.value.trim().toUpperCase();
        await api('POST', `/api/kiosk/${encodeURIComponent(TERMINAL_ID)}/customer-card`, { cardId: id });
        clearError();
      });
    return h('div', { class: 'actions' }, input, h('button', { type: 'button', class: 'btn btn-primary', testid: 'insert-my-card', onclick: insert }, 'Insert my card'));
  }

  function reloadCash(rel, amountMinor) {
    rel.queue = rel.queue.then(async () => {
      try {
        await update(`/api/reloads/${encodeURIComponent(rel.id)}/cash`, { amountMinor });
        clearError();
      } catch (err) {
        showError(err.message);
      }
    });
  }

  // Screens: adding an application to an issued card (api/routes/kiosk-applications.ts; free)

  const APPLICATION_END_STAGES = ['completed', 'refused', 'failed'];

  /** The customer types the card number printed on their card; the page lists what it can add. */
  function screenMyCard() {
    const input = h('input', { class: 'card-number', testid: 'my-card-id', autocomplete: 'off', placeholder: 'C0123456789AB', maxlength: '13' });
    const list = h('div', { class: 'tiles', testid: 'application-offers' });
    const show = () =>
      busy(async () => {
        const cardId = input.value.trim().toUpperCase();
        const data = await api('GET', `/api/cards/${encodeURIComponent(cardId)}/application-offers`);
        const tiles = data.offers.map((o) =>
          tile({ testid: `offer-${o.packageId}`, title: o.name, detail: o.installed ? 'Already on your card' : `Version ${o.version} · free`, disabled: o.installed, onclick: () => startAddApplication(cardId, o) }),
        );
        list.replaceChildren(...(tiles.length ? tiles : [h('p', { class: 'muted' }, 'This card has no applications to add.')]));
      });
    setScreen(
      'my-card',
      heading('Add an application to your card', 'Enter the card number printed on your card.'),
      h('div', { class: 'actions' }, input, h('button', { type: 'button', class: 'btn btn-primary', testid: 'my-card-show', onclick: show }, 'Show applications')),
      list,
    );
  }

  function startAddApplication(cardId, offer) {
    return busy(async () => {
      await update(`/api/kiosk/${encodeURIComponent(TERMINAL_ID)}/card-applications`, { cardId, packageId: offer.packageId });
      state.phase = 'end';
      renderChrome();
      await followAddApplication(cardId, offer);
    });
  }

  /** Shows the workflow's progress (insert the card, installing, take the card) until it ends. */
  async function followAddApplication(cardId, offer) {
    const message = h('p', { class: 'ended-message big', testid: 'application-message' }, 'Please wait…');
    setScreen('adding-application', heading(`Adding ${offer.name}`, `Card ${cardId}`), message);
    let insertControl = null;
    for (;;) {
      let p = null;
      try {
        p = await api('GET', `/api/card-applications/${encodeURIComponent(cardId)}`);
      } catch {
        // a network blip: ask again
      }
      if (p) {
        message.textContent = p.message || 'Please wait…';
        $('screen').dataset.stage = p.stage;
        if (p.stage === 'waiting-for-card' && !insertControl) $('screen').append((insertControl = insertMyCard(cardId)));
        if (p.stage !== 'waiting-for-card' && insertControl) insertControl = void insertControl.remove();
        if (APPLICATION_END_STAGES.includes(p.stage)) break;
      }
      await sleep(POLL_SLOW_MS);
    }
    $('screen').append(h('button', { type: 'button', class: 'btn btn-primary btn-large', testid: 'restart', onclick: resetToHome }, 'Done'));
    scheduleIdleReset();
  }

  // ---------------------------------------------------------------------------------------------
  // Start

  /** Screens throw on a failed load; show the reason rather than leave "Loading…" up. */
  window.addEventListener('unhandledrejection', (event) => {
    showError(event.reason?.message || String(event.reason));
    if (document.querySelector('.loading')) $('screen').replaceChildren(h('p', { class: 'muted' }, 'Could not load this screen. Tap Back or try again.'));
  });

  function init() {
    $('terminal-id').textContent = TERMINAL_ID ? `Terminal ${TERMINAL_ID}` : '';
    $('back').addEventListener('click', () => backTo(state.nav.length - 2));
    $('cancel').addEventListener('click', cancelPurchase);
    setInterval(tickCountdown, 250);
    if (!TERMINAL_ID) {
      setScreen('ended', heading('This kiosk is not set up', 'Open the page as /kiosk/<terminal id>.'));
      return;
    }
    resetToHome();
  }

  // After every deferred script (kiosk-users.js registers its hooks first).
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
