/* The payment review queue, live: new flagged items appear, claimed items show who claimed
 * them, decided items leave, without a reload.
 *
 * A message first patches what it can at once (the claimer's name, a decided row
 * removed); then the page fetches its own URL again (at most twice a second) and
 * reconciles the rows with what the server lists now, so filters, ordering, scoping and
 * every column stay exactly the changelist's. Ticked checkboxes are kept.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("pam-live-config").textContent);
  var REFRESH_MS = 500;
  var refreshTimer = null;
  var refreshing = false;
  var again = false;

  function rowsById(root) {
    var rows = {};
    root.querySelectorAll("#result_list tbody tr").forEach(function (tr) {
      var box = tr.querySelector("input.action-select");
      if (box) {
        rows[box.value] = tr;
      }
    });
    return rows;
  }

  function rowOf(paymentId) {
    return rowsById(document)[String(paymentId)] || null;
  }

  function flash(tr) {
    tr.classList.add("pam-live-new");
    setTimeout(function () { tr.classList.remove("pam-live-new"); }, 3000);
  }

  function reconcile(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var form = document.getElementById("changelist-form");
    var freshForm = fresh.getElementById("changelist-form");
    if (!form || !freshForm) {
      return;
    }
    var table = document.querySelector("#result_list tbody");
    var freshTable = fresh.querySelector("#result_list tbody");
    if (!table || !freshTable) {
      // From or to an empty queue: take the server's whole list.
      form.innerHTML = freshForm.innerHTML;
      form.querySelectorAll("#result_list tbody tr").forEach(flash);
      return;
    }
    var current = rowsById(document);
    var wanted = rowsById(fresh);
    Object.keys(current).forEach(function (id) {
      if (!wanted[id]) {
        current[id].remove();
      }
    });
    var previous = null;
    freshTable.querySelectorAll("tr").forEach(function (freshRow) {
      var box = freshRow.querySelector("input.action-select");
      if (!box) {
        return;
      }
      var row = current[box.value];
      var adopted = document.importNode(freshRow, true);
      if (row) {
        var ticked = row.querySelector("input.action-select").checked;
        row.innerHTML = adopted.innerHTML;
        row.querySelector("input.action-select").checked = ticked;
        row.classList.toggle("selected", ticked);
      } else {
        row = adopted;
        flash(row);
      }
      if (previous) {
        previous.after(row);
      } else {
        table.prepend(row);
      }
      previous = row;
    });
    var paginator = document.querySelector("#changelist-form .paginator");
    var freshPaginator = freshForm.querySelector(".paginator");
    if (paginator && freshPaginator) {
      paginator.innerHTML = freshPaginator.innerHTML;
    }
  }

  function refresh() {
    refreshTimer = null;
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html) {
          reconcile(html);
        }
      })
      .catch(function () {})
      .then(function () {
        refreshing = false;
        if (again) {
          again = false;
          scheduleRefresh();
        }
      });
  }

  function scheduleRefresh() {
    if (!refreshTimer) {
      refreshTimer = setTimeout(refresh, refreshing ? REFRESH_MS : 50);
    }
  }

  function onMessage(msg) {
    if (msg.stream !== "queue") {
      return;
    }
    var data = msg.data;
    var tr = rowOf(data.payment_id);
    if (tr && data.action === "claimed") {
      var cell = tr.querySelector("td.field-claimed_by");
      if (cell) {
        cell.textContent = data.claimed_by;
      }
      var statusCell = tr.querySelector("td.field-status");
      if (statusCell) {
        statusCell.textContent = "In review";
      }
    } else if (tr && data.action === "leave") {
      tr.remove();
    }
    scheduleRefresh();
  }

  var live = window.PamLive.connect({
    streams: ["queue"],
    cursor: config.cursor,
    catchupUrl: config.catchup_url,
    onMessage: onMessage,
    onStatus: window.PamLive.statusBadge(document.getElementById("pam-live-status")),
  });
  window.pamLiveQueue = live;
})();
