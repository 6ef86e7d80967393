-- GET /items?limit=20 with the token from the TOKEN environment variable.
wrk.method = "GET"
wrk.path = "/items?limit=20"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
