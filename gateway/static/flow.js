// The live event-flow panel: every event from GET /api/events (EventSource), listed with
// its publisher, topic, order and summary, and drawn as the services that react to it.
"use strict";

(function () {
  // Who reacts to each topic (the consumers in shared/contracts; README, Events).
  const REACTS = {
    "order.placed": ["inventory"],
    "stock.reserved": ["orders"],
    "stock.rejected": ["orders"],
    "order.confirmed": ["email", "sms", "recommendation"],
    "order.rejected": ["email", "sms"],
    "notification.sent": ["orders"],
  };
  const KEPT = 50; // events shown in the log
  const listeners = [];
  const log = document.getElementById("event-log");
  const status = document.getElementById("stream-status");
  const now = document.getElementById("flow-now");
  const svg = document.getElementById("flow");

  const LIT_MS = 2000; // how long a service stays lit after an event
  const timers = new Map();

  function glow(element, ...classes) {
    if (!element) return;
    element.classList.add("lit", ...classes);
    clearTimeout(timers.get(element));
    timers.set(element, setTimeout(() => element.classList.remove("lit", "source", "back"),
                                   LIT_MS));
  }

  // The publisher lights as the source, the services that react to it and the arrows to
  // them as lit; a burst of events (an order's five) lights its whole path at once.
  function light(publisher, reacting) {
    glow(svg.querySelector(`[data-node="${publisher}"]`), "source");
    for (const name of reacting) {
      glow(svg.querySelector(`[data-node="${name}"]`));
      const edge = svg.querySelector(`[data-edge="${publisher}-${name}"]`);
      const back = svg.querySelector(`[data-edge="${name}-${publisher}"]`); // drawn the other way
      if (edge) glow(edge);
      else if (back) glow(back, "back");
    }
  }

  function show(event) {
    const reacting = REACTS[event.topic] || [];
    const order = event.payload && event.payload.order_id;
    const item = document.createElement("li");
    item.dataset.topic = event.topic;
    item.dataset.publisher = event.publisher;
    const cells = [
      ["at", event.occurred_at.slice(11, 23)],
      ["publisher", `${event.publisher}#${event.seq}`],
      ["topic", event.topic],
      ["order", order ? `order ${order}` : ""],
      ["summary", event.summary],
      ["reacts", reacting.length ? `→ ${reacting.join(", ")}` : ""],
    ];
    for (const [name, text] of cells) {
      const span = document.createElement("span");
      span.className = name;
      span.textContent = text;
      item.append(span, " ");
    }
    log.prepend(item);
    while (log.children.length > KEPT) log.lastChild.remove();
    light(event.publisher, reacting);
    now.textContent = `${event.publisher}: ${event.summary}` +
      (reacting.length ? `; ${reacting.join(", ")} react${reacting.length === 1 ? "s" : ""}` : "");
  }

  function connect() {
    // history=0: the panel shows what happens from now on; the order page has the past.
    const source = new EventSource("/api/events?history=0");
    source.onopen = () => { status.textContent = "live"; status.dataset.state = "live"; };
    source.onerror = () => {
      status.dataset.state = "down";
      if (source.readyState === EventSource.CLOSED) {
        // Refused (429: too many viewers) or the gateway is away: EventSource gives up on
        // a non-200 answer, so try again ourselves.
        status.textContent = "not connected; trying again in 5 s";
        setTimeout(connect, 5000);
      } else {
        status.textContent = "reconnecting…";
      }
    };
    for (const topic of Object.keys(REACTS)) {
      source.addEventListener(topic, (message) => {
        const event = JSON.parse(message.data);
        show(event);
        for (const listener of listeners) listener(event);
      });
    }
  }

  window.zeroshopFlow = { onEvent: (listener) => listeners.push(listener) };
  connect();
})();
