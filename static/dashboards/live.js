/* The live pages' connection: one websocket, reconnection with backoff, and catch-up.
 *
 * PamLive.connect({streams: ["queue"], brand: null, cursor: <event id at render>,
 *                  catchupUrl: "/admin/dashboards/dashboard/catchup/",
 *                  onMessage: function (msg) {}, onStatus: function (state, text) {}})
 *
 * Messages of the event streams (queue, alerts) carry their outbox event id. After every
 * (re)connect the page asks the catch-up endpoint for what came after its cursor (with a
 * few seconds of overlap: a transaction that took a lower id can commit after a higher
 * one was pushed) and drops every id it has already seen, so nothing is missed and
 * nothing is shown twice. Snapshots (ops) have no id: the newest replaces the last.
 */
(function () {
  "use strict";

  var OVERLAP_SECONDS = 5;
  var SEEN_MAX = 5000;
  var EVENT_STREAMS = { queue: true, alerts: true };

  function connect(opts) {
    var streams = opts.streams;
    var cursor = opts.cursor || 0;
    var seen = new Set();
    var seenOrder = [];
    var attempts = 0;
    var stopped = false;
    var ws = null;
    var pingTimer = null;
    var holdUntil = 0;
    var status = opts.onStatus || function () {};

    function remember(id) {
      seen.add(id);
      seenOrder.push(id);
      if (seenOrder.length > SEEN_MAX) {
        seen.delete(seenOrder.shift());
      }
    }

    function deliver(msg, advance) {
      if (typeof msg.id === "number") {
        if (seen.has(msg.id)) {
          return;
        }
        remember(msg.id);
        if (advance && msg.id > cursor) {
          cursor = msg.id;
        }
      }
      opts.onMessage(msg);
    }

    function url() {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var query = "?streams=" + encodeURIComponent(streams.join(","));
      if (opts.brand) {
        query += "&brand=" + encodeURIComponent(opts.brand);
      }
      return scheme + window.location.host + "/ws/dashboards/" + query;
    }

    function fetchStream(stream, after) {
      var query = "?stream=" + stream + "&after=" + after + "&overlap=" + OVERLAP_SECONDS;
      if (opts.brand) {
        query += "&brand=" + encodeURIComponent(opts.brand);
      }
      return fetch(opts.catchupUrl + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("catch-up answered " + response.status);
          }
          return response.json();
        })
        .then(function (page) {
          page.messages.forEach(function (msg) { deliver(msg, false); });
          if (page.more) {
            return fetchStream(stream, page.last_id);
          }
          return page.last_id;
        });
    }

    function catchUp(socket) {
      var from = cursor;
      var wanted = streams.filter(function (s) { return EVENT_STREAMS[s]; });
      if (!wanted.length || !opts.catchupUrl) {
        return;
      }
      Promise.all(wanted.map(function (s) { return fetchStream(s, from); }))
        .then(function (lasts) {
          // Only a complete catch-up on a socket still open moves the cursor past the gap.
          if (socket === ws && socket.readyState === WebSocket.OPEN) {
            cursor = Math.max.apply(null, [cursor].concat(lasts));
            socket.caughtUp = true;
          }
        })
        .catch(function (err) {
          status("error", "catch-up failed: " + err.message);
          if (socket === ws) {
            socket.close();
          }
        });
    }

    function open() {
      if (stopped) {
        return;
      }
      status("connecting", "connecting…");
      var socket = new WebSocket(url());
      ws = socket;
      socket.caughtUp = false;
      socket.onopen = function () {
        attempts = 0;
        status("live", "live");
        catchUp(socket);
        clearInterval(pingTimer);
        pingTimer = setInterval(function () {
          if (socket.readyState === WebSocket.OPEN) {
            socket.send(JSON.stringify({ type: "ping" }));
          }
        }, 25000);
      };
      socket.onmessage = function (event) {
        var msg;
        try {
          msg = JSON.parse(event.data);
        } catch (e) {
          return;
        }
        if (msg.type === "hello" || msg.type === "pong") {
          return;
        }
        deliver(msg, socket.caughtUp);
      };
      socket.onclose = function (event) {
        clearInterval(pingTimer);
        if (socket !== ws) {
          return;
        }
        if (event.code === 4401) {
          stopped = true;
          status("stopped", "signed out: reload the page to sign in");
          return;
        }
        if (event.code === 4403) {
          stopped = true;
          status("stopped", "not allowed");
          return;
        }
        var delay = event.code === 4000 ? 0 : Math.min(10000, 500 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
        delay = Math.max(delay, holdUntil - Date.now());
        attempts += 1;
        status("reconnecting", "reconnecting…");
        setTimeout(open, delay);
      };
    }

    open();
    return {
      close: function () {
        stopped = true;
        if (ws) {
          ws.close();
        }
      },
      cursor: function () { return cursor; },
      // Tests and the console: drop the connection as a network would, and stay away for
      // `holdMs` before reconnecting.
      drop: function (holdMs) {
        holdUntil = Date.now() + (holdMs || 0);
        if (ws) {
          ws.close(4999);
        }
      },
    };
  }

  function statusBadge(element) {
    return function (state, text) {
      if (!element) {
        return;
      }
      element.className = "pam-live pam-live-" + state;
      element.textContent = text;
    };
  }

  window.PamLive = { connect: connect, statusBadge: statusBadge };
})();
