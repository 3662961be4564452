-- wrk's script for bench/http.ts: GETs the paths listed in SKYGGE_WRK_PATHS (one a line) in turn,
-- each thread from its own offset, and prints one machine-readable line at the end.
local paths = {}
for line in io.lines(os.getenv("SKYGGE_WRK_PATHS")) do paths[#paths + 1] = line end
offset = 0 -- a global: setup sets it per thread
local n = 0
setup = function(thread)
  thread:set("offset", math.random(#paths))
end
init = function(args)
  n = offset or 0
end
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
