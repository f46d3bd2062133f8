-- Static GET (URL and headers from the wrk command line): wrk's fast path, no per-request Lua.
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
