-- wrk script: POST / with one 200-byte JSON event, keep-alive.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"user_id":"u-00012345","ts":1732540800123,"type":"page_view","session":"s-5f1c9a2e","value":471100,"ok":true,"geo":{"country":"DE","city":"M\\u00fcnchen","lat":48.137},"ua":"Mozilla/5.0 (X11; Linux)"}'
assert(#wrk.body == 200, "body is " .. #wrk.body .. " bytes")
