-- urls.lua -- wrk script that replays a siege URL file (URLS names it),
-- so that wrk and siege load the same requests: each line is "URL" or
-- "URL POST body"; a request picks a line at random, as siege -i does.
-- Written for bench/table.sh.
local lines = {}

-- Formatted in init, once wrk has set the Host header.
init = function(args)
  for line in io.lines(os.getenv("URLS")) do
    local url, body = string.match(line, "^(%S+) POST (.*)$")
    local path = string.match(url or line, "^https?://[^/]+(/.*)$")
    if path then
      if body then
        lines[#lines + 1] = wrk.format("POST", path, {
          ["Content-Type"] = "application/x-www-form-urlencoded",
        }, body)
      else
        lines[#lines + 1] = wrk.format("GET", path)
      end
    end
  end
  if #lines == 0 then error("urls.lua: no URL in " .. tostring(os.getenv("URLS"))) end
  math.randomseed(os.time())
end

request = function()
  return lines[math.random(#lines)]
end
