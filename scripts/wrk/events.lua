-- wrk script: POST /api/v1/events with unique event ids, one event per request or BATCH per
-- request (NDJSON). Environment: SMK_TOKEN, BATCH (default 1), CONTACTS (default 10000).
local token = os.getenv("SMK_TOKEN")
local batch = tonumber(os.getenv("BATCH") or "1")
local contacts = tonumber(os.getenv("CONTACTS") or "10000")
local counter = 0
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  errors = 0
  events = 0
end

local function event()
  counter = counter + 1
  events = events + 1
  return '{"id":"w' .. tid .. '-' .. counter .. '","type":"page_view","occurred_at":"2026-03-01T09:00:00Z","contact_id":"ct-' .. (counter % contacts + 1) .. '"}'
end

function request()
  local body
  if batch == 1 then
    body = event()
  else
    local parts = {}
    for i = 1, batch do parts[i] = event() end
    body = table.concat(parts, "\n")
  end
  return wrk.format("POST", "/api/v1/events", {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/x-ndjson"}, body)
end

function response(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end

function done(summary, latency, requests)
  local errs = 0
  for _, t in ipairs(threads) do errs = errs + t:get("errors") end
  local seconds = summary.duration / 1e6
  io.write(string.format('{"suite":"http_%s","items":%d,"requests":%d,"seconds":%.3f,"per_second":%.1f,"events_per_second":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"non_200":%d,"socket_errors":%d,"build":"release"}\n',
    batch == 1 and "single" or "batched", summary.requests * batch, summary.requests, seconds, summary.requests / seconds,
    summary.requests * batch / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000, errs,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
