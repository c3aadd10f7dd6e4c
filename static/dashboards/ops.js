/* The operations dashboard: a card per brand, redrawn from each snapshot the server pushes
 * (at most about once a second per brand). The chart is drawn here on a canvas: bets per
 * minute as bars and GGR as a line, in the brand's default currency. */
(function () {
  "use strict";

  var exponents = JSON.parse(document.getElementById("pam-exponents").textContent);
  // The brand filter submits on change (here, not an onchange="" attribute: the CSP forbids those).
  var brandSelect = document.getElementById("pam-brand");
  if (brandSelect) {
    brandSelect.addEventListener("change", function () {
      brandSelect.form.submit();
    });
  }
  var cards = {};
  document.querySelectorAll(".pam-dash-card").forEach(function (card) {
    cards[card.dataset.brand] = card;
  });

  function major(minor, currency) {
    var exp = exponents[currency] === undefined ? 2 : exponents[currency];
    return minor / Math.pow(10, exp);
  }

  function money(minor, currency) {
    var exp = exponents[currency] === undefined ? 2 : exponents[currency];
    return major(minor, currency).toLocaleString(undefined, {
      minimumFractionDigits: exp,
      maximumFractionDigits: exp,
    }) + " " + currency;
  }

  function figure(card, name, text) {
    var el = card.querySelector('[data-figure="' + name + '"]');
    if (el) {
      el.textContent = text;
    }
  }

  function amounts(minute, metric) {
    var parts = Object.keys(minute.amounts).sort().map(function (currency) {
      return money(minute.amounts[currency][metric], currency);
    });
    return parts.length ? parts.join(", ") : "0";
  }

  function draw(canvas, minutes, currency) {
    var ctx = canvas.getContext("2d");
    var w = canvas.width;
    var h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    var bets = minutes.map(function (m) { return m.amounts[currency] ? major(m.amounts[currency].bet, currency) : 0; });
    var ggr = minutes.map(function (m) { return m.amounts[currency] ? major(m.amounts[currency].ggr, currency) : 0; });
    var top = Math.max.apply(null, [1].concat(bets, ggr));
    var bottom = Math.min.apply(null, [0].concat(ggr));
    var span = top - bottom;
    var pad = 16;
    var slot = (w - pad) / minutes.length;
    function y(v) { return h - pad - ((v - bottom) / span) * (h - 2 * pad); }
    ctx.fillStyle = "#93c5fd";
    bets.forEach(function (v, i) {
      ctx.fillRect(pad + i * slot + 1, y(v), Math.max(slot - 2, 1), y(0) - y(v));
    });
    ctx.strokeStyle = "#15803d";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ggr.forEach(function (v, i) {
      var x = pad + i * slot + slot / 2;
      if (i === 0) { ctx.moveTo(x, y(v)); } else { ctx.lineTo(x, y(v)); }
    });
    ctx.stroke();
    ctx.strokeStyle = "#9ca3af";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(pad, y(0));
    ctx.lineTo(w, y(0));
    ctx.stroke();
    ctx.fillStyle = "#6b7280";
    ctx.font = "10px sans-serif";
    ctx.fillText(top.toLocaleString() + " " + currency, 2, 10);
  }

  function render(msg) {
    if (msg.type !== "ops.snapshot") {
      return;
    }
    var card = cards[String(msg.brand_id)];
    if (!card) {
      return;
    }
    var data = msg.data;
    var now = data.minutes[data.minutes.length - 1];
    figure(card, "dep", now.n.dep + " · " + amounts(now, "dep"));
    figure(card, "wd", now.n.wd + " · " + amounts(now, "wd"));
    figure(card, "bet", now.n.bet + " · " + amounts(now, "bet"));
    figure(card, "ggr", amounts(now, "ggr"));
    figure(card, "active", String(data.active_players));
    figure(card, "rcf", String(data.minutes.reduce(function (sum, m) { return sum + m.n.rcf; }, 0)));
    draw(card.querySelector("canvas"), data.minutes, card.dataset.currency);
    card.dataset.updated = String(Date.now());
  }

  var params = new URLSearchParams(window.location.search);
  window.pamLiveOps = window.PamLive.connect({
    streams: ["ops"],
    brand: params.get("brand") || null,
    cursor: 0,
    catchupUrl: null,
    onMessage: render,
    onStatus: window.PamLive.statusBadge(document.getElementById("pam-live-status")),
  });
})();
