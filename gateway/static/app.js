// The storefront: catalog, product page, cart and orders over the gateway's JSON API.
// Views are chosen by the URL's hash (#/, #/products/7, #/cart, #/orders/3); the cart
// lives in localStorage. Every text from the API goes in with textContent, never as HTML.
"use strict";

const view = document.getElementById("view");
const SECTIONS = { // product page section -> the service that serves it
  inventory: "Stock", pricing: "Price", discount: "Promotion", recommendation: "Recommended",
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function money(m) {
  if (!m) return "price unavailable";
  const format = new Intl.NumberFormat("en-US", { style: "currency", currency: m.currency });
  return format.format(m.amount / 10 ** format.resolvedOptions().maximumFractionDigits);
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
    throw Object.assign(new Error(message), { status: response.status });
  }
  return body;
}

let navigated = false; // after the first view, a new view takes the keyboard focus

function render(title, ...content) {
  const heading = el("h1", { tabindex: "-1" }, title);
  view.replaceChildren(heading, ...content);
  if (navigated) heading.focus();
  document.title = `${title} · ZeroShop`;
}

function failure(error) {
  render("Something went wrong", el("p", { class: "error", role: "alert" }, error.message));
}

// --- the cart ------------------------------------------------------------------------------

const cart = {
  lines() { return JSON.parse(localStorage.getItem("zeroshop.cart") || "[]"); },
  save(lines) {
    localStorage.setItem("zeroshop.cart", JSON.stringify(lines));
    document.getElementById("cart-count").textContent =
      String(lines.reduce((n, line) => n + line.quantity, 0));
  },
  add(product, quantity) {
    const lines = this.lines();
    const line = lines.find((l) => l.product_id === product.id);
    if (line) line.quantity = Math.min(100, line.quantity + quantity);
    else lines.push({ product_id: product.id, name: product.name, quantity });
    this.save(lines);
  },
};

// --- views ---------------------------------------------------------------------------------

function productCard(item) {
  const discounted = item.price && item.final_price && item.final_price.amount < item.price.amount;
  return el("li", { class: "card" },
    el("a", { href: `#/products/${item.id}` }, item.name),
    el("span", { class: "category" }, item.category),
    el("span", { class: "price" },
      discounted ? el("s", {}, money(item.price)) : null, " ", money(item.final_price)));
}

async function catalog(params) {
  document.getElementById("q").value = params.get("q") || "";
  document.getElementById("category").value = params.get("category") || "";
  const page = Number(params.get("page") || 1);
  const query = new URLSearchParams({ page: String(page), page_size: "12" });
  for (const key of ["q", "category"]) if (params.get(key)) query.set(key, params.get(key));
  const result = await api(`/api/products?${query}`);
  const pages = Math.max(1, Math.ceil(result.total / result.page_size));
  const link = (n, label) => {
    const next = new URLSearchParams(params);
    next.set("page", String(n));
    return el("a", { href: `#/?${next}` }, label);
  };
  const what = params.get("q") ? `Products matching “${params.get("q")}”` :
    params.get("category") || "All products";
  render(what,
    degradedNotice(result.degraded),
    el("p", { class: "count" }, `${result.total} product(s), page ${page} of ${pages}`),
    el("ul", { class: "cards" }, ...result.items.map(productCard)),
    el("nav", { class: "pager", "aria-label": "Pages" },
      page > 1 ? link(page - 1, "← Previous") : null, " ",
      page < pages ? link(page + 1, "Next →") : null));
}

function degradedNotice(services) {
  if (!services || !services.length) return null;
  return el("p", { class: "degraded", role: "status" },
    `Some information is unavailable right now: the ${services.join(", ")} service` +
    `${services.length > 1 ? "s" : ""} did not answer in time.`);
}

function section(name, ...content) {
  const degraded = content.length === 0;
  return el("section", { class: degraded ? "section degraded" : "section",
                         "data-section": name, "data-degraded": String(degraded),
                         "aria-label": SECTIONS[name] },
    el("h2", {}, SECTIONS[name]),
    ...(degraded ? [el("p", { class: "unavailable" },
      `Unavailable: the ${name} service did not answer in time.`)] : content));
}

async function productPage(id) {
  const page = await api(`/api/products/${id}`);
  const down = new Set(page.degraded);
  const quantity = el("input", { id: "quantity", type: "number", min: "1", max: "100", value: "1" });
  const added = el("p", { class: "added", role: "status" });
  const promo = page.discount;
  render(page.product.name,
    el("p", { class: "category" }, page.product.category),
    el("p", { class: "description" }, page.product.description),
    section("pricing", ...(down.has("pricing") ? [] : [el("p", { class: "price" },
      promo && page.final_price.amount < page.price.amount ? el("s", {}, money(page.price)) : null,
      " ", el("strong", {}, money(page.final_price)))])),
    section("discount", ...(down.has("discount") ? [] :
      [el("p", {}, promo ? `${promo.name}: ${promo.kind === "percent" ? `${promo.value}%` :
        money({ amount: promo.value, currency: page.price ? page.price.currency : "USD" })} off`
        : "No promotion on this product.")])),
    section("inventory", ...(down.has("inventory") ? [] : [el("p", {},
      page.inventory.in_stock ? `In stock: ${page.inventory.available} left` : "Sold out")])),
    el("form", { class: "buy", onsubmit: (e) => {
      e.preventDefault();
      cart.add(page.product, Math.max(1, Math.min(100, Number(quantity.value) || 1)));
      added.textContent = `Added to the cart.`;
    } }, el("label", { for: "quantity" }, "Quantity"), quantity,
      el("button", { type: "submit", ...(page.inventory && !page.inventory.in_stock ?
        { disabled: "" } : {}) }, "Add to cart"), added),
    section("recommendation", ...(down.has("recommendation") ? [] : [
      page.recommendations.length ? el("ul", {}, ...page.recommendations.map((r) =>
        el("li", {}, el("a", { href: `#/products/${r.id}` }, r.name))))
        : el("p", {}, "Nothing to recommend yet.")])));
}

function cartPage() {
  const lines = cart.lines();
  if (!lines.length) {
    render("Your cart", el("p", {}, "The cart is empty. ", el("a", { href: "#/" }, "Browse the catalog.")));
    return;
  }
  const rows = lines.map((line, index) => {
    const input = el("input", { id: `qty-${index}`, type: "number", min: "1", max: "100",
                                value: String(line.quantity), onchange: () => {
      line.quantity = Math.max(1, Math.min(100, Number(input.value) || 1));
      cart.save(lines);
    } });
    return el("li", {}, el("label", { for: `qty-${index}` }, line.name), input,
      el("button", { type: "button", onclick: () => {
        cart.save(lines.filter((l) => l !== line));
        cartPage();
      } }, `Remove ${line.name}`));
  });
  const field = (name, label, type, extra = {}) => [
    el("label", { for: name }, label),
    el("input", { id: name, name, type, required: "", ...extra })];
  const message = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "checkout", onsubmit: (e) => placeOrder(e, lines, message) },
    el("fieldset", {}, el("legend", {}, "Your details"),
      ...field("name", "Name", "text", { autocomplete: "name", maxlength: "100" }),
      ...field("email", "Email", "email", { autocomplete: "email" }),
      ...field("phone", "Phone", "tel", { autocomplete: "tel", pattern: "\\+?[0-9 ()\\-]{6,20}" }),
      el("label", { for: "promo" }, "Promo code (optional)"),
      el("input", { id: "promo", name: "promo", type: "text", pattern: "[A-Z0-9\\-]{1,32}" })),
    el("button", { type: "submit" }, "Place order"), message);
  render("Your cart", el("ul", { class: "cart-lines" }, ...rows), form);
}

async function placeOrder(event, lines, message) {
  event.preventDefault();
  const data = new FormData(event.target);
  const body = {
    customer: { name: data.get("name"), email: data.get("email"), phone: data.get("phone") },
    items: lines.map((l) => ({ product_id: l.product_id, quantity: l.quantity })),
  };
  if (data.get("promo")) body.promo_code = data.get("promo");
  // One key per cart: a retried click returns the same order instead of a second one.
  const key = sessionStorage.getItem("zeroshop.key") || crypto.randomUUID();
  sessionStorage.setItem("zeroshop.key", key);
  try {
    const created = await api("/api/orders", { method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "Idempotency-Key": key } });
    sessionStorage.removeItem("zeroshop.key");
    cart.save([]);
    location.hash = `#/orders/${created.order_id}`;
  } catch (error) {
    // A 4xx was refused for good: the next try is a new order (after the fix), not a retry.
    if (error.status >= 400 && error.status < 500) sessionStorage.removeItem("zeroshop.key");
    message.textContent = `The order was not placed: ${error.message}`;
  }
}

let watching = null; // the order whose page is open: refreshed on each of its events
let settled = false; // its timeline is complete: decided, and both notifications sent

function isSettled(order) {
  return order.status !== "pending" &&
    order.timeline.filter((t) => t.event === "notification.sent").length >= 2;
}

async function orderPage(id) {
  const order = await api(`/api/orders/${id}`);
  watching = order.order_id;
  settled = isSettled(order);
  render(`Order ${order.order_id}`,
    el("p", {}, "Status: ", el("strong", { class: `status-${order.status}`, id: "order-status" },
      order.status)),
    el("ul", { class: "lines" }, ...order.lines.map((l) =>
      el("li", {}, `${l.quantity} × ${l.name}: ${money(l.final_unit_price)} each`))),
    el("p", {}, `Total: ${money(order.total)}`),
    el("h2", {}, "Timeline"),
    el("ol", { class: "timeline", id: "timeline" }, ...timelineItems(order)));
}

function timelineItems(order) {
  return order.timeline.map((t) =>
    el("li", {}, el("time", { datetime: t.at }, t.at.slice(11, 19)), " ",
      el("span", { class: "service" }, t.service), " ", t.event, ": ", t.detail));
}

async function refreshOrder() {
  if (watching === null || !location.hash.startsWith(`#/orders/${watching}`)) return;
  const order = await api(`/api/orders/${watching}`);
  const timeline = document.getElementById("timeline");
  if (!timeline) return;
  document.getElementById("order-status").textContent = order.status;
  document.getElementById("order-status").className = `status-${order.status}`;
  timeline.replaceChildren(...timelineItems(order));
  settled = isSettled(order);
}

// --- routing -------------------------------------------------------------------------------

async function route() {
  watching = null;
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  let match;
  try {
    if ((match = path.match(/^\/products\/(\d+)$/))) await productPage(match[1]);
    else if (path === "/cart") cartPage();
    else if ((match = path.match(/^\/orders\/(\d+)$/))) await orderPage(match[1]);
    else await catalog(params);
  } catch (error) {
    failure(error);
  }
}

document.getElementById("search").addEventListener("submit", (e) => {
  e.preventDefault();
  const data = new FormData(e.target);
  const params = new URLSearchParams();
  for (const key of ["q", "category"]) if (data.get(key)) params.set(key, data.get(key));
  location.hash = `#/?${params}`;
});

async function categories() {
  const select = document.getElementById("category");
  try {
    const result = await api("/api/categories");
    select.append(...result.items.map((c) =>
      el("option", { value: c.name }, `${c.name} (${c.product_count})`)));
    select.value = new URLSearchParams(location.hash.split("?")[1] || "").get("category") || "";
  } catch (error) { /* the catalog view says what is wrong */ }
}

window.zeroshopFlow.onEvent((event) => {
  // orders adds the event to the timeline when it consumes it: look now and a moment later.
  if (event.payload && event.payload.order_id === watching) {
    refreshOrder().catch(() => {});
    setTimeout(() => refreshOrder().catch(() => {}), 500);
  }
});
// Without the event stream (refused, or the gateway restarting), or when the order's last
// events came while the page was still loading it, the page still follows the order until
// its timeline is complete.
setInterval(() => {
  if (watching !== null && !settled) refreshOrder().catch(() => {});
}, 2000);
window.addEventListener("hashchange", () => { navigated = true; route(); });
document.querySelector(".skip").addEventListener("click", (e) => {
  e.preventDefault(); // the hash picks the view: focus the content instead
  view.querySelector("h1").focus();
});
cart.save(cart.lines());
categories();
route();
