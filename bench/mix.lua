-- mix.lua -- wrk script for bench/rss.sh: a window shopper's mix of pages
-- of every size and outcome on the one-worker pool (/one), so that the
-- worker's arena sees small and large requests, errors included.
local paths = {
  "/one?pg=Item&id=%d", "/one?pg=Category&id=%d", "/one?pg=Category&id=1&page=2",
  "/one?pg=Search&q=salmon", "/one?pg=Search&q=%d", "/one", "/one?pg=Cart",
  "/one?pg=Counter", "/one?pg=Item&id=999999", "/one?pg=Item&id=%%zz",
  "/one?pg=Home&_s=AAAAAAAAAAAAAAAAAAAAAA",
}
local n = 0
-- MIX_LIMIT: stop after that many answers (rss.sh's first 1,000).
local limit = tonumber(os.getenv("MIX_LIMIT") or "0")
local answered = 0

request = function()
  n = n + 1
  local p = string.format(paths[n % #paths + 1], n % 9 + 1)
  return wrk.format("GET", p)
end

response = function()
  answered = answered + 1
  if limit > 0 and answered >= limit then
    wrk.thread:stop()
  end
end
