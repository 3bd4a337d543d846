-- wrk: LIST a page of 50 environments of a random tenant.
math.randomseed(os.time())
request = function()
  local path = string.format("/api/v1/tenants/bench-%02d/jenkinsenvironments?limit=50", math.random(0, 99))
  return wrk.format("GET", path)
end
