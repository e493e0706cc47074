-- wrk script of `kb bench` (kb/commands/bench.py): replays a list of requests, one per line of the file named
-- after `--`, as "METHOD<TAB>path?query<TAB>body" (body optional, sent as JSON). Each thread starts at its own
-- offset and cycles through the list; with `-- FILE once` each request is sent once in all (one thread, one
-- connection), and "kb-bench: all sent" on stderr tells the caller to stop wrk (SIGINT) instead of waiting out -d.
-- done() prints one JSON line: requests, duration, rps, latency percentiles (ms), non-2xx and socket errors.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local requests, pos, once, answered = {}, 1, false, 0
non2xx = 0  -- a global: done() reads it from each thread

function init(args)
   once = args[2] == "once"
   for line in io.lines(args[1]) do
      local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
      if method then
         local headers = nil
         if body ~= "" then headers = { ["Content-Type"] = "application/json" } else body = nil end
         table.insert(requests, wrk.format(method, path, headers, body))
      end
   end
   pos = (id * 7919) % #requests + 1  -- threads start apart in the mix
end

function request()
   local r = requests[pos]
   pos = pos % #requests + 1
   return r
end

function response(status, headers, body)
   answered = answered + 1
   if status < 200 or status > 299 then non2xx = non2xx + 1 end
   if once and answered >= #requests then
      io.stderr:write("kb-bench: all sent\n")
      io.stderr:flush()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local non = 0
   for _, t in ipairs(threads) do non = non + t:get("non2xx") end
   local e = summary.errors
   local ms = function(p) return latency:percentile(p) / 1000 end
   io.write(string.format(
      '{"requests": %d, "duration_s": %.3f, "rps": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
      '"max_ms": %.2f, "mean_ms": %.2f, "non_2xx": %d, "socket_errors": %d, "timeouts": %d}\n',
      summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6), ms(50), ms(95), ms(99),
      latency.max / 1000, latency.mean / 1000, non, e.connect + e.read + e.write, e.timeout))
end
