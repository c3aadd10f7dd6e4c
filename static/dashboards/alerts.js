/* The alerts feed: the latest alerts rendered from the page, then live ones on top. */
(function () {
  "use strict";

  var MAX_ROWS = 200;
  var config = JSON.parse(document.getElementById("pam-live-config").textContent);
  var brandNames = JSON.parse(document.getElementById("pam-brand-names").textContent);
  var tbody = document.querySelector("#pam-alerts tbody");
  var shown = new Set();

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    return td;
  }

  function add(msg) {
    if (msg.stream !== "alerts" || shown.has(msg.id)) {
      return;
    }
    shown.add(msg.id);
    var tr = document.createElement("tr");
    tr.dataset.eventId = msg.id;
    tr.className = "pam-alert-" + msg.data.severity;
    [
      "#" + msg.id,
      new Date(msg.at).toLocaleTimeString(),
      brandNames[String(msg.brand_id)] || msg.brand_id,
      msg.data.kind,
      msg.data.severity,
      msg.data.player_id,
      msg.data.text,
    ].forEach(function (value) { tr.appendChild(cell(value)); });
    // Newest (highest id) first, wherever a late one fits.
    var before = null;
    tbody.querySelectorAll("tr").forEach(function (row) {
      if (!before && Number(row.dataset.eventId) < msg.id) {
        before = row;
      }
    });
    tbody.insertBefore(tr, before);
    while (tbody.children.length > MAX_ROWS) {
      tbody.removeChild(tbody.lastChild);
    }
  }

  JSON.parse(document.getElementById("pam-alerts-initial").textContent).forEach(add);
  window.pamLiveAlerts = window.PamLive.connect({
    streams: ["alerts"],
    cursor: config.cursor,
    catchupUrl: config.catchup_url,
    onMessage: add,
    onStatus: window.PamLive.statusBadge(document.getElementById("pam-live-status")),
  });
})();
