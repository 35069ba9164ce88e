-- wrk script for bench/server.py: POSTs distinct CDEvents to Flightlog's ingest routes.
--
-- Environment: FLIGHTLOG_BENCH_TOKEN (bearer token), FLIGHTLOG_BENCH_RUN (a tag that
-- makes ids unique across runs), FLIGHTLOG_BENCH_BATCH (events per request; 1 posts
-- to /api/v1/events, more to /api/v1/events/batch).
-- At the end it prints one line "flightlog-wrk {json}" with the counts and latencies.

local token = os.getenv("FLIGHTLOG_BENCH_TOKEN") or "unused"
local run = os.getenv("FLIGHTLOG_BENCH_RUN") or "wrk"
local batch = tonumber(os.getenv("FLIGHTLOG_BENCH_BATCH") or "1")
local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

local counter = 0
local failures = 0
local first_failure = ""

function init(args)
   prefix = run .. "-t" .. tostring(tid) .. "-"
   path = batch > 1 and "/api/v1/events/batch" or "/api/v1/events"
   headers = {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
   }
end

-- Event n is one second after event n - 1 (from 2026-11-01T00:00:00Z), as a ledger
-- receives events in time order: times out of order would cost every time index
-- random inserts that real traffic does not cause.
local epoch = 1793491200

local function event(n)
   return string.format(
      '{"context":{"specversion":"0.5.1","id":"%s%d","source":"/bench/wrk",'
         .. '"type":"dev.cdevents.service.deployed.0.3.0","timestamp":"%s"},'
         .. '"subject":{"id":"payments","source":"/bench/wrk","content":'
         .. '{"environment":{"id":"prod"},"artifactId":"pkg:oci/payments@sha256%%3A%064x"}}}',
      prefix, n, os.date("!%Y-%m-%dT%H:%M:%SZ", epoch + n), n)
end

function request()
   if batch == 1 then
      counter = counter + 1
      return wrk.format("POST", path, headers, event(counter))
   end
   local parts = {}
   for i = 1, batch do
      counter = counter + 1
      parts[i] = event(counter)
   end
   return wrk.format("POST", path, headers, "[" .. table.concat(parts, ",") .. "]")
end

function response(status, headers, body)
   if status ~= 200 and status ~= 201 then
      failures = failures + 1
      if first_failure == "" then
         first_failure = tostring(status) .. " " .. string.sub(body or "", 1, 200)
      end
   end
end

function done(summary, latency, requests)
   local failed, first = 0, ""
   for _, thread in ipairs(threads) do
      failed = failed + (thread:get("failures") or 0)
      local f = thread:get("first_failure") or ""
      if first == "" then first = string.gsub(f, '[%c"\\]', "?") end
   end
   local errors = summary.errors
   io.write(string.format(
      'flightlog-wrk {"requests":%d,"micros":%d,"failed":%d,"socket_errors":%d,'
         .. '"p50_us":%d,"p99_us":%d,"first_failure":"%s"}\n',
      summary.requests, summary.duration, failed,
      errors.connect + errors.read + errors.write + errors.timeout,
      latency:percentile(50), latency:percentile(99), first))
end
