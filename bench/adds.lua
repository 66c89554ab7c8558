-- adds.lua -- wrk script for bench/adds.sh: ADD_PERCENT % of requests are
-- anonymous adds (a POST without cookie or key: each makes a new session
-- and commits it), the rest window shoppers' Item pages, under ADD_PREFIX
-- (/shop, /bg: nori; /commit: the commit floor; /add.php: PHP-FPM).
local pct = tonumber(os.getenv("ADD_PERCENT") or "100")
local prefix = os.getenv("ADD_PREFIX") or "/shop"
local n = 0

request = function()
  n = n + 1
  if (n * pct) % 100 < pct then
    return wrk.format("POST", prefix, {
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "act=add&id=26&qty=1")
  end
  return wrk.format("GET", prefix .. "?pg=Item&id=" .. (n % 80) + 1)
end
