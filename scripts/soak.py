#!/usr/bin/env python3
"""Mixed load against a running smarketing server for a fixed time (scripts/soak starts it).

Threads, each paced, for DURATION seconds:
  - event writers: POST /api/v1/events, NDJSON batches of 10 page views by email (acknowledged ids kept);
  - dashboard readers: GET /api/v1/kpis, /api/v1/funnel/leaks, /api/v1/attribution, /api/v1/inbox
    (with SOAK_FRESH_ATTRIBUTION=1 attribution is asked with Cache-Control: no-cache, so every
    read computes it: the worst case, as before the API served it from the cache);
  - web readers: a signed-in session reading /, /leads, /pipeline, /campaigns;
  - SSE: streams of /api/v1/stream kept open, reconnecting when the server closes them;
  - a stager moving leads to MQL, 2 a second (stage changes, MQL events, handovers);
  - a webhook subscription (all events) to a slow receiver (200 ms per delivery) started here.
Samples the server's RSS every 10 s. Prints one JSON line: requests, errors, p50/p99 per kind,
RSS at minute 1 and at the end, deliveries received, acknowledged event ids (written to a file
for the loss check). Standard library only.
"""
import http.client, http.server, json, os, re, socketserver, sys, threading, time, urllib.parse

host, port = "127.0.0.1", int(os.environ["SOAK_PORT"])
token = os.environ["SOAK_TOKEN"]
email, password = os.environ["SOAK_LOGIN"], os.environ["SOAK_PASSWORD"]
pid = int(os.environ["SOAK_PID"])
duration = float(os.environ.get("SOAK_SECONDS", "600"))
acked_path = os.environ["SOAK_ACKED"]
deadline = time.time() + duration
fresh_attribution = os.environ.get("SOAK_FRESH_ATTRIBUTION") == "1"

lock = threading.Lock()
lat = {}      # kind -> [seconds]
errors = {}   # kind -> count
samples = []  # (t, rss_kib)
acked = []
deliveries = [0]

def record(kind, seconds, ok):
    with lock:
        lat.setdefault(kind, []).append(seconds)
        if not ok:
            errors[kind] = errors.get(kind, 0) + 1

def call(conn, method, path, body=None, headers=None):
    h = {"Authorization": "Bearer " + token}
    if headers: h.update(headers)
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    return r.status, data, r

def writer(n):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    b = 0
    while time.time() < deadline:
        ids = ["soak-%d-%d-%d" % (n, b, i) for i in range(10)]
        body = "\n".join(json.dumps({"id": i, "type": "page_view", "occurred_at": "2026-11-20T09:00:00Z",
                                      "email": "soak%d.%d@soak.example" % (n, b % 50)}) for i in ids)
        t = time.time()
        try:
            status, _, _ = call(conn, "POST", "/api/v1/events", body, {"Content-Type": "application/x-ndjson"})
            ok = status == 200
        except Exception:
            ok = False
            conn = http.client.HTTPConnection(host, port, timeout=60)
        record("events", time.time() - t, ok)
        if ok:
            with lock: acked.extend(ids)
        b += 1
        time.sleep(max(0, 0.05 - (time.time() - t)))   # about 20 requests (200 events) a second per writer

def reader(paths, kind, pause):
    conn = http.client.HTTPConnection(host, port, timeout=120)
    i = 0
    while time.time() < deadline:
        path = paths[i % len(paths)]; i += 1
        t = time.time()
        try:
            fresh = fresh_attribution and path.startswith("/api/v1/attribution")
            status, _, _ = call(conn, "GET", path, headers={"Cache-Control": "no-cache"} if fresh else None)
            ok = status == 200
        except Exception:
            ok = False
            conn = http.client.HTTPConnection(host, port, timeout=120)
        # Each path on its own too, so a tail names its report.
        record(kind, time.time() - t, ok)
        record(kind + " " + path.split("?")[0], time.time() - t, ok)
        time.sleep(pause)

def web():
    conn = http.client.HTTPConnection(host, port, timeout=120)
    conn.request("GET", "/login"); r = conn.getresponse(); page = r.read().decode()
    login_cookie = re.search(r"smk_login=([^;]+)", r.getheader("Set-Cookie") or "").group(1)
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"email": email, "password": password, "_csrf": csrf})
    conn.request("POST", "/login", body=form, headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": "smk_login=" + login_cookie})
    r = conn.getresponse(); r.read()
    session = re.search(r"smk_session=([^;]+)", " ".join(v for k, v in r.getheaders() if k.lower() == "set-cookie")).group(1)
    pages = ["/", "/leads", "/pipeline", "/campaigns"]
    i = 0
    while time.time() < deadline:
        t = time.time()
        try:
            conn.request("GET", pages[i % len(pages)], headers={"Cookie": "smk_session=" + session}); i += 1
            r = conn.getresponse(); r.read()
            ok = r.status == 200
        except Exception:
            ok = False
            conn = http.client.HTTPConnection(host, port, timeout=120)
        record("web", time.time() - t, ok)
        time.sleep(0.5)

def stager():
    """Moves leads to MQL (2 a second): stage changes, MQL events and handovers for the webhooks."""
    conn = http.client.HTTPConnection(host, port, timeout=60)
    cursor = ""
    while time.time() < deadline:
        t = time.time()
        try:
            status, data, _ = call(conn, "GET", "/api/v1/contacts?stage=lead&limit=20" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else ""))
            page = json.loads(data) if status == 200 else {}
            record("contacts_list", time.time() - t, status == 200)
            cursor = page.get("next_cursor") or ""
            for c in page.get("data", []):
                if time.time() >= deadline: break
                t = time.time()
                status, _, _ = call(conn, "PATCH", "/api/v1/contacts/" + urllib.parse.quote(c["id"]), json.dumps({"lifecycle_stage": "mql"}),
                                    {"Content-Type": "application/json"})
                record("stage_change", time.time() - t, status == 200)
                time.sleep(0.5)
        except Exception:
            record("stage_change", time.time() - t, False)
            conn = http.client.HTTPConnection(host, port, timeout=60)
            time.sleep(1)

def sse():
    while time.time() < deadline:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        t = time.time()
        try:
            conn.request("GET", "/api/v1/stream", headers={"Authorization": "Bearer " + token, "Accept": "text/event-stream"})
            r = conn.getresponse()
            ok = r.status == 200
            record("sse_connect", time.time() - t, ok)
            while ok and time.time() < deadline:
                line = r.fp.readline()
                if not line: break
        except Exception:
            pass
        finally:
            conn.close()

class Slow(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(0.2)
        with lock: deliveries[0] += 1
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass

def rss():
    while time.time() < deadline + 1:
        try:
            with open("/proc/%d/status" % pid) as f:
                kib = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
            with lock: samples.append((time.time() - start, kib))
        except Exception:
            pass
        time.sleep(10)

start = time.time()
receiver = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Slow)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
conn = http.client.HTTPConnection(host, port, timeout=30)
status, data, _ = call(conn, "POST", "/api/v1/webhooks", json.dumps({"url": "http://127.0.0.1:%d/hook" % receiver.server_address[1], "events": ["*"]}),
                       {"Content-Type": "application/json"})
assert status == 201, data
threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
threads += [threading.Thread(target=reader, args=(["/api/v1/kpis", "/api/v1/funnel/leaks", "/api/v1/attribution", "/api/v1/inbox"], "dashboard", 0.2)) for _ in range(2)]
threads += [threading.Thread(target=web), threading.Thread(target=stager)]
threads += [threading.Thread(target=sse) for _ in range(3)]
threads += [threading.Thread(target=rss)]
for t in threads: t.start()
while time.time() < deadline:
    time.sleep(5)
    with lock:
        n = sum(len(v) for v in lat.values()); e = sum(errors.values())
    print("soak: %.0f s, %d requests, %d errors" % (time.time() - start, n, e), file=sys.stderr, flush=True)
for t in threads: t.join(timeout=180)
with open(acked_path, "w") as f: f.write("\n".join(acked))

def scrape():
    """The server's own figures at the end: connections, their waits, the KPI refresh times."""
    wanted = ("smarketing_database_connections_", "smarketing_database_connection_wait_seconds_count", "smarketing_database_connection_wait_seconds_sum",
              "smarketing_kpi_refresh_duration_seconds_count", "smarketing_kpi_refresh_duration_seconds_sum", "smarketing_kpi_refresh_duration_seconds_bucket")
    try:
        c = http.client.HTTPConnection(host, port, timeout=30)
        _, data, _ = call(c, "GET", "/metrics")
        lines = [l for l in data.decode().splitlines() if l.startswith(wanted) and ('le="' not in l or 'le="0.1"' in l or 'le="1.0"' in l or 'le="+Inf"' in l)]
        return {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in lines}
    except Exception as e:
        return {"error": str(e)}

metrics = scrape()

def pct(v, p):
    v = sorted(v); return round(v[min(len(v) - 1, int(len(v) * p))] * 1000, 1) if v else None
minute1 = next((kib for t, kib in samples if t >= 60), samples[0][1] if samples else None)
out = {
    "suite": "soak", "fresh_attribution": fresh_attribution, "seconds": round(time.time() - start), "requests": sum(len(v) for v in lat.values()),
    "errors": sum(errors.values()), "errors_by_kind": errors, "events_acknowledged": len(acked),
    "webhook_deliveries_received": deliveries[0],
    "latency_ms": {k: {"n": len(v), "p50": pct(v, 0.5), "p99": pct(v, 0.99)} for k, v in sorted(lat.items())},
    "rss_kib_minute_1": minute1, "rss_kib_end": samples[-1][1] if samples else None,
    "rss_kib_samples": [kib for _, kib in samples],
    "server_metrics": metrics,
}
print(json.dumps(out))
