-- wrk script of bench/ingest.py: POSTs inbound messages, ten per conversation, each
-- conversation from its own customer, for wrk's duration.
-- Arguments: <path> <token> <account id> <run tag>
--
-- As bench/ingest.py's message_bodies: 64 conversations are open at a time and take turns,
-- so a conversation's messages arrive one after the other, in order, as a bridge forwards a
-- chat, while the load is spread over many conversations.

local OPEN = 64
local PER_CONVERSATION = 10
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  path, token, account, tag = args[1], args[2], args[3], args[4]
  thread_id = tonumber(wrk.thread:get("thread_id"))
end

function request()
  local n = counter
  counter = counter + 1
  local index = thread_id * 1000000 + n
  local conversation = thread_id * 100000 + math.floor(n / (OPEN * PER_CONVERSATION)) * OPEN
    + n % OPEN
  local phone = string.format("+1202%07d", conversation % 10000000)
  local body = string.format(
    '{"text":"Hello, this is message %d of the benchmark","messageDirection":"INCOMING",' ..
    '"channelAccountId":"%s","senders":[{"deliveryIdentifier":{"type":"HS_PHONE_NUMBER",' ..
    '"value":"%s"},"name":"Customer %d"}],"recipients":[{"deliveryIdentifier":' ..
    '{"type":"HS_PHONE_NUMBER","value":"+15550009999"}}],"timestamp":"2026-11-25T10:00:00.000Z",' ..
    '"integrationThreadId":"%s-%d","attachments":[]}',
    index, account, phone, conversation, tag, conversation)
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    -- A connection per request: with wrk's few keep-alive connections, gunicorn's two workers
    -- could end up with most of them each, leaving one core idle for a whole run.
    ["Connection"] = "close",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

function response(status, headers, body)
  if status ~= 201 and status ~= 200 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end

function done(summary, latency, requests)
  io.write(string.format("WRK %d %d %d %.3f %.3f\n", summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
