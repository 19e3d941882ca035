-- Load for POST /api/chat: many distinct refund claims, each walked turn by turn to a filed ticket.
-- Adapted from the reference script in ../shared/bench/chat.lua, plus the contact turn the web channel asks for (the widget does
-- not know who the customer is), so every finished conversation really files a ticket.
-- Each wrk connection has one request in flight and each in-flight request belongs to one conversation,
-- so a conversation never has two turns at once. Replies are matched by the server-issued session.
local TURNS = {"I want a refund", "I paid on 2026-11-01", "it was activated on 2026-11-05",
               "latency over 300ms and packet loss 5%", "monitoring report attached",
               "my email is bench@example.com", "yes"}
local headers = {["Content-Type"] = "application/json"}
local idle, turn_of = {}, {}
started, finished, lost, filed = 0, 0, 0, 0

function request()
  local conv = table.remove(idle)
  if conv then
    return wrk.format("POST", "/api/chat", headers,
      string.format('{"session":"%s","text":"%s"}', conv, TURNS[turn_of[conv]]))
  end
  started = started + 1
  return wrk.format("POST", "/api/chat", headers, string.format('{"text":"%s"}', TURNS[1]))
end

function response(status, hdrs, body)
  -- A plain find (memchr/memcmp in C) rather than a pattern match tried at every byte: the generator
  -- shares the cores with the server it measures, and the pattern cost it ~5 us per reply, more for the
  -- bot's replies (~600 bytes) than the ceiling's (~90). Both put no space after the colon; the pattern
  -- stays as the fallback for a server that does.
  local s
  if body then
    local at = body:find('"session":"', 1, true)
    if at then
      local close = body:find('"', at + 11, true)
      if close then s = body:sub(at + 11, close - 1) end
    else
      s = body:match('"session"%s*:%s*"([^"]+)"')
    end
  end
  if status ~= 200 or not s then lost = lost + 1; return end
  local t = (turn_of[s] or 1) + 1
  if t > #TURNS then
    turn_of[s] = nil
    finished = finished + 1
    if body:find('"state":"filed"', 1, true) then filed = filed + 1 end
    return
  end
  turn_of[s] = t
  table.insert(idle, s)
end

local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local s, f, l, fl = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    s = s + t:get("started"); f = f + t:get("finished"); l = l + t:get("lost"); fl = fl + t:get("filed")
  end
  io.write(string.format("conversations: started %d, finished %d, filed %d, lost replies %d\n", s, f, fl, l))
  io.write(string.format("summary: requests %d, non2xx %d, errors %d, rps %.0f, p50_ms %.3f, p99_ms %.3f\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
