-- POST /items with the token from the TOKEN environment variable.
wrk.method = "POST"
wrk.body = '{"name": "made under load"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
