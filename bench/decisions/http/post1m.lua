-- wrk script: POST / with a 1 MiB JSON body, keep-alive.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"pad":"' .. string.rep("x", 1048576 - 10) .. '"}'
assert(#wrk.body == 1048576)
