// GridTokenX dashboard: the book and trades live over /ws/markets/{id}; the other panels from
// /dashboard/overview every few seconds. Plain DOM, no library, nothing from outside the API.
// Amounts are base units (1e6 per kWh, per GRX, per THB); they stay below 2^53 here.
"use strict";

const UNIT = 1000000;
const POLL_MS = 2000;
const state = { market: null, seq: null, bids: new Map(), asks: new Map(), live: [], trades: [] };

function units(n) {
  const neg = n < 0, a = Math.abs(n);
  const whole = Math.floor(a / UNIT), frac = String(a % UNIT).padStart(6, "0").replace(/0+$/, "");
  return (neg ? "-" : "") + whole + (frac ? "." + frac : "");
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fill(id, rows) {
  document.getElementById(id).replaceChildren(...rows);
}

function renderBook() {
  const asks = [...state.asks.values()].sort((a, b) => a.price - b.price);
  const bids = [...state.bids.values()].sort((a, b) => b.price - a.price);
  const max = Math.max(1, ...asks.map((l) => l.amount), ...bids.map((l) => l.amount));
  const row = (side, l) => {
    const bar = el("span", { class: "bar", style: `width:${(100 * l.amount) / max}%` });
    return el("tr", { class: side, "data-side": side, "data-price": l.price, "data-amount": l.amount },
      el("td", { class: "l" }, side), el("td", {}, units(l.price)),
      el("td", { class: "depth" }, bar, units(l.amount)), el("td", {}, l.orders));
  };
  fill("asks", asks.reverse().map((l) => row("ask", l)));  // best ask next to the best bid
  fill("bids", bids.map((l) => row("bid", l)));
  const spread = asks.length && bids.length ? units(asks[asks.length - 1].price - bids[0].price) : "–";
  document.getElementById("spread").textContent = spread;
  document.getElementById("feed-seq").textContent = state.seq;
  document.body.dataset.seq = state.seq;
}

function renderTrades() {
  // settled trades from the API, with the ones just matched on the feed (not yet listed) first
  const known = new Set(state.trades.map((t) => t.seq));
  const rows = [...state.live.filter((t) => !known.has(t.seq)), ...state.trades].slice(0, 20);
  fill("trades", rows.map((t) => el("tr", { "data-seq": t.seq, "data-amount": t.amount, "data-price": t.price },
    el("td", { class: "l" }, t.trade_id ? "#" + t.trade_id : "seq " + t.seq), el("td", {}, units(t.amount)),
    el("td", {}, units(t.price)), el("td", {}, units(t.payment)),
    el("td", { class: "l" }, t.status || "matched"))));
}

function setLevel(l) {
  const side = l.side === "buy" ? state.bids : state.asks;
  if (l.amount === 0) side.delete(l.price); else side.set(l.price, { price: l.price, amount: l.amount, orders: l.orders });
}

function onFeed(msg) {
  if (msg.type === "snapshot") {
    state.bids.clear(); state.asks.clear();
    msg.bids.forEach((l) => setLevel({ ...l, side: "buy" }));
    msg.asks.forEach((l) => setLevel({ ...l, side: "sell" }));
    state.seq = msg.seq;
  } else if (msg.type === "event") {
    state.seq = msg.seq;
    if (msg.event === "LevelChanged") setLevel(msg);
    if (msg.event === "Trade") { state.live.unshift(msg); state.live.length = Math.min(state.live.length, 20); renderTrades(); }
  } else if (msg.type === "resync") {
    return;  // a snapshot follows
  } else if (msg.type === "error") {
    setFeed("error: " + msg.code); return;
  }
  renderBook();
}

function setFeed(status) {
  document.getElementById("feed-status").textContent = status;
  document.body.dataset.feed = status;
}

function connect(delay) {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws/markets/${state.market}`);
  ws.onopen = () => setFeed("live");
  ws.onmessage = (e) => onFeed(JSON.parse(e.data));
  ws.onclose = () => {
    setFeed("reconnecting");
    setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);  // the next snapshot resyncs the book
  };
}

function chart(m) {
  // one bar pair per hour: produced up (green), consumed down (red), a shared scale per meter
  const W = 360, H = 90, mid = H / 2, n = Math.max(m.hours.length, 1), bw = Math.min(24, Math.max(2, Math.floor((W - 40) / n) - 2));
  const max = Math.max(1, ...m.hours.map((h) => Math.max(h.produced_wh, h.consumed_wh)));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H + 14); svg.setAttribute("data-meter", m.meter_id);
  const add = (tag, a) => { const e = document.createElementNS(ns, tag); for (const k in a) e.setAttribute(k, a[k]); svg.append(e); return e; };
  add("line", { x1: 40, x2: W, y1: mid, y2: mid, stroke: "#ccd" });
  add("text", { x: 0, y: 10 }).textContent = max;
  m.hours.forEach((h, i) => {
    const x = 40 + i * (bw + 2), hp = ((mid - 2) * h.produced_wh) / max, hc = ((mid - 2) * h.consumed_wh) / max;
    add("rect", { x, y: mid - hp, width: bw, height: hp, fill: "#127a3a", class: "produced", "data-wh": h.produced_wh });
    add("rect", { x, y: mid, width: bw, height: hc, fill: "#b3261e", class: "consumed", "data-wh": h.consumed_wh });
  });
  const last = m.hours[m.hours.length - 1];
  if (last) add("text", { x: 40, y: H + 12 }).textContent = `${m.meter_id} · last hour ${last.bucket.slice(11, 16)}Z`;
  return svg;
}

function renderOverview(o) {
  const g = o.gateway;
  document.getElementById("accepted").textContent = g.accepted;
  fill("quarantine", Object.entries(g.quarantined).map(([r, n]) =>
    el("tr", { "data-reason": r, "data-count": n }, el("td", { class: "l" }, r), el("td", {}, n))));
  fill("stalled", g.stalled.map((s) =>
    el("tr", { "data-meter": s.meter_id, class: "bad" }, el("td", { class: "l" }, s.meter_id), el("td", {}, s.seconds))));
  fill("meters", o.meters.map(chart));
  fill("mints", o.mints.map((m) => el("tr", { "data-signature": m.tx_signature, "data-amount": m.amount },
    el("td", { class: "l" }, m.meter_id), el("td", { class: "l" }, m.window_start.slice(0, 19).replace("T", " ")),
    el("td", {}, units(m.amount)),
    el("td", { class: "l mono" }, el("a", { href: "/dashboard/proofs/" + m.tx_signature, title: "verify: gridx prove" },
      m.tx_signature.slice(0, 12) + "…")))));
  fill("swaps", o.swaps.map((s) => el("tr", { "data-swap": s.swap_id, "data-status": s.status },
    el("td", { class: "l mono" }, s.swap_id.slice(0, 8)), el("td", { class: "l" }, s.status),
    el("td", {}, units(s.grxe)), el("td", {}, units(s.thbc)), el("td", { class: "l" }, `${s.evm_leg} / ${s.sol_leg}`))));
}

async function getJson(path) {
  const r = await fetch(path, { headers: { accept: "application/json" } });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

async function poll() {
  try {
    const [o, trades] = await Promise.all([
      getJson("/dashboard/overview"), getJson(`/markets/${state.market}/trades?limit=20`)]);
    renderOverview(o);
    state.trades = trades;
    renderTrades();
    const now = new Date().toISOString().slice(11, 19);
    document.getElementById("updated").textContent = now + "Z";
    document.body.dataset.overview = String(Number(document.body.dataset.overview || 0) + 1);
  } catch (e) {
    document.getElementById("updated").textContent = "error: " + e.message;
  }
  setTimeout(poll, POLL_MS);
}

async function main() {
  const wanted = new URLSearchParams(location.search).get("market");
  const markets = await getJson("/markets");
  state.market = wanted || markets[0].id;
  document.getElementById("market").textContent = state.market;
  connect(500);
  poll();
}

main();
