-- soak.lua -- wrk script of bench/soak.sh: window shoppers on Home,
-- Category, Item and Search pages, and 1 request in 20 an add to cart
-- (POST) on a live session, as bench/mixed.lua, except that the sessions
-- are made and dropped by the script itself, all the time:
--
--   * each wrk thread keeps up to SOAK_LIVE (50) sessions; while it has
--     fewer, an add slot posts without a session, which makes one (303,
--     Location with the new _s, Set-Cookie nori_b);
--   * the next navigation request reads that cart (GET with _s and the
--     nori_b cookie), whose forms give the form key _k; from then on the
--     session takes adds;
--   * each session is used for 1..SOAK_LIFE (12) seconds, then dropped:
--     nobody uses it again, and it must expire (NORI_SESSION_TTL after its
--     last add, or NORI_SESSION_MAX_AGE after its birth) and be reclaimed.
--     SOAK_LIFE must stay below both, or adds would meet expired sessions.
--   * 1 navigation request in 10 carries a live session (a page read on a
--     session: no commit, or one when the idle expiry is pushed out).
--
-- No request sends If-None-Match, so no answer should be a 304; every
-- answer is counted by status, and done() prints one line that soak.sh
-- reads:  soak-tally s200=N s303=N s304=N s4xx=N s5xx=N sother=N
--         created=N (303s that set nori_b: sessions made) posts=N
local FORM = "application/x-www-form-urlencoded"
local LIVE = tonumber(os.getenv("SOAK_LIVE") or "") or 50
local LIFE = tonumber(os.getenv("SOAK_LIFE") or "") or 12
local TERMS = {"salmon", "tuna", "maki", "nigiri", "tea", "ebi", "roll",
               "miso", "uni", "zzz"}

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end

-- Per thread (each wrk thread has its own Lua state).
local live = {}       -- sessions taking adds: {key, k, b, drop_at}
local fresh = {}      -- made, their cart not asked for yet: {key, b}
local asked = {}      -- key -> nori_b: cart asked for, _k not seen yet
local nasked = 0
local creating = 0    -- posts without a session still unanswered
local made = 0
local n, turn = 0, 0
s200, s303, s304, s4xx, s5xx, sother, created, posts = 0, 0, 0, 0, 0, 0, 0, 0

local function navigation(i)
  local r = i % 20
  if r < 3 then
    return r == 0 and "/shop" or "/shop?pg=Home"
  elseif r < 8 then
    local c = (i % 9) + 1
    if c == 1 and r == 7 then return "/shop?pg=Category&id=1&page=2" end
    return "/shop?pg=Category&id=" .. c
  elseif r < 17 then
    return "/shop?pg=Item&id=" .. ((i * 7) % 80 + 1)
  end
  return "/shop?pg=Search&q=" .. TERMS[(i % #TERMS) + 1]
end

local function drop_old()
  local now = os.time()
  for j = #live, 1, -1 do
    if now >= live[j].drop_at then table.remove(live, j) end
  end
end

request = function()
  n = n + 1
  local id = (n % 40) + 1   -- a cart holds 64 different dishes at most
  if n % 20 == 0 then
    drop_old()
    if #live + #fresh + nasked + creating < LIVE then
      creating = creating + 1
      posts = posts + 1
      return wrk.format("POST", "/shop", {["Content-Type"] = FORM},
                        "act=add&id=" .. id .. "&qty=1")
    end
    if #live > 0 then
      turn = turn + 1
      local s = live[(turn % #live) + 1]
      posts = posts + 1
      return wrk.format("POST", "/shop?_s=" .. s.key, {
        ["Content-Type"] = FORM, ["Cookie"] = "nori_b=" .. s.b,
      }, "act=add&id=" .. id .. "&qty=1&_s=" .. s.key .. "&_k=" .. s.k)
    end
  end
  if #fresh > 0 then
    local f = table.remove(fresh, 1)
    asked[f.key] = f.b
    nasked = nasked + 1
    return wrk.format("GET", "/shop?pg=Cart&_s=" .. f.key,
                      {["Cookie"] = "nori_b=" .. f.b})
  end
  local path = navigation(n)
  if n % 10 == 1 and #live > 0 then
    local s = live[(n % #live) + 1]
    path = path .. (string.find(path, "?", 1, true) and "&" or "?") .. "_s=" .. s.key
    return wrk.format("GET", path, {["Cookie"] = "nori_b=" .. s.b})
  end
  return wrk.format("GET", path)
end

local function header(headers, name)
  for k, v in pairs(headers) do
    if string.lower(k) == name then return v end
  end
  return nil
end

response = function(status, headers, body)
  if status == 200 then
    s200 = s200 + 1
    if nasked > 0 and string.find(body, 'name="_k"', 1, true) then
      local key = string.match(body, 'name="_s" value="([^"]+)"')
      local k = string.match(body, 'name="_k" value="([^"]+)"')
      if key and k and asked[key] then
        made = made + 1
        live[#live + 1] = {key = key, k = k, b = asked[key],
                           drop_at = os.time() + 1 + made % LIFE}
        asked[key] = nil
        nasked = nasked - 1
      end
    end
  elseif status == 303 then
    s303 = s303 + 1
    local cookie = header(headers, "set-cookie")
    local loc = header(headers, "location")
    local b = cookie and string.match(cookie, "nori_b=([^;]+)")
    local key = loc and string.match(loc, "[?&]_s=([^&]+)")
    if b and key then
      created = created + 1
      if creating > 0 then creating = creating - 1 end
      fresh[#fresh + 1] = {key = key, b = b}
    end
  elseif status == 304 then
    s304 = s304 + 1
  elseif status >= 400 and status < 500 then
    s4xx = s4xx + 1
    creating = 0
  elseif status >= 500 then
    s5xx = s5xx + 1
    creating = 0
  else
    sother = sother + 1
  end
end

function done(summary, latency, requests)
  local t = {s200 = 0, s303 = 0, s304 = 0, s4xx = 0, s5xx = 0, sother = 0,
             created = 0, posts = 0}
  local order = {"s200", "s303", "s304", "s4xx", "s5xx", "sother", "created", "posts"}
  for _, thread in ipairs(threads) do
    for _, name in ipairs(order) do
      t[name] = t[name] + (tonumber(thread:get(name)) or 0)
    end
  end
  local out = "soak-tally"
  for _, name in ipairs(order) do out = out .. " " .. name .. "=" .. t[name] end
  io.write(out .. "\n")
end
