-- mixed.lua -- wrk script for the mixed run: 95 % window shoppers on
-- Item pages, 5 % adds to carts of live sessions (MIX_SESSIONS holds
-- "key:formkey:bindcookie" triples, comma-separated, made by sessions.sh).
local sessions = {}
for s in string.gmatch(os.getenv("MIX_SESSIONS") or "", "[^,]+") do
  local key, k, b = string.match(s, "([^:]+):([^:]+):([^:]+)")
  sessions[#sessions + 1] = {key = key, k = k, b = b}
end
local n = 0

request = function()
  n = n + 1
  local id = (n % 80) + 1
  if n % 20 == 0 and #sessions > 0 then
    local s = sessions[(n / 20) % #sessions + 1]
    id = (n % 40) + 1  -- a cart holds 64 different dishes at most
    -- _s in the URL too: a sticky balancer (memory store) routes on it.
    return wrk.format("POST", "/shop?_s=" .. s.key, {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Cookie"] = "nori_b=" .. s.b,
    }, "act=add&id=" .. id .. "&qty=1&_s=" .. s.key .. "&_k=" .. s.k)
  end
  return wrk.format("GET", "/shop?pg=Item&id=" .. id)
end
