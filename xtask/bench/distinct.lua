-- P2 of `cargo xtask bench serve`: wrk asks `cprlink serve` for the numbers of a list,
-- each of them once, and checks every answer.
--
--   wrk -t T -c C -d D -s distinct.lua URL -- LIST T
--
-- LIST has one line per number, "CPR<TAB>PREFIX", PREFIX being how the answer's body
-- must begin (the record's cpr, status and name, from persons.csv). Thread k of T asks
-- lines k+1, k+1+T, k+1+2T, ..., so no number is asked twice while the list lasts; if
-- it runs out the requests go on from its start and are counted as repeated (the bench
-- then fails: a repeated number is a cache hit). `done` prints the counts the bench
-- reads: "distinct: asked A repeated R good G bad B".

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  cprs, prefixes = {}, {}
  for line in io.lines(args[1]) do
    local cpr, prefix = line:match("^(%d+)\t(.*)$")
    cprs[#cprs + 1] = cpr
    prefixes[cpr] = prefix
  end
  stride = tonumber(args[2])
  k = id + 1
  asked, repeated, good, bad = 0, 0, 0, 0
end

function request()
  if k > #cprs then
    repeated = repeated + 1
    k = (k - 1) % #cprs + 1
  end
  local cpr = cprs[k]
  k = k + stride
  asked = asked + 1
  return wrk.format("GET", "/v1/persons/" .. cpr .. "/name")
end

function response(status, headers, body)
  local cpr = body:match('^{"cpr":"(%d+)"')
  local prefix = cpr and prefixes[cpr]
  if status == 200 and prefix and body:sub(1, #prefix) == prefix then
    good = good + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local a, r, g, b = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("asked")
    r = r + t:get("repeated")
    g = g + t:get("good")
    b = b + t:get("bad")
  end
  io.write(string.format("distinct: asked %d repeated %d good %d bad %d\n", a, r, g, b))
end
