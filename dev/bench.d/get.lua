-- wrk: GET one environment by name, uniformly over the loaded 100 tenants x 100 environments.
math.randomseed(os.time())
request = function()
  local path = string.format("/api/v1/tenants/bench-%02d/jenkinsenvironments/env-%03d", math.random(0, 99), math.random(0, 99))
  return wrk.format("GET", path)
end
