-- wrk: redeem one authorization code per request at the token endpoint (client_secret_basic, PKCE).
-- Each thread takes every n-th code of the file written by bench_oidc, so no code is sent twice.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("BENCH_CODES")
  local file = assert(io.open(path, "r"))
  local header = file:read("*l")
  basic, redirect, verifier = header:match("^(%S+) (%S+) (%S+)$")
  codes = {}
  local n = 0
  local threads_count = tonumber(os.getenv("BENCH_THREADS") or "2")
  for line in file:lines() do
    if n % threads_count == index then table.insert(codes, line) end
    n = n + 1
  end
  file:close()
  next_code = 1
  encoded_redirect = redirect:gsub("([^%w%-%.%_%~])", function(c) return string.format("%%%02X", string.byte(c)) end)
end

request = function()
  local code = codes[next_code]
  next_code = next_code + 1
  local body = "grant_type=authorization_code&code=" .. code .. "&redirect_uri=" .. encoded_redirect .. "&code_verifier=" .. verifier
  return wrk.format("POST", "/oauth2/token", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. basic,
  }, body)
end
