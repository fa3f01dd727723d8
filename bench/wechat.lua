-- wrk script: replay a signed WeChat text message, a new MsgId per request
-- so that the host's retry dedup does not answer from its cache.
-- The signed query string comes from the environment (load.sh signs it).
local query = os.getenv("WECHAT_QUERY")
local msgid = 0
local thread_id = 0

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  msgid = thread_id * 1000000000
end

function request()
  msgid = msgid + 1
  local body = "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>" ..
    "<FromUserName><![CDATA[bench-user-" .. (msgid % 1000) .. "]]></FromUserName>" ..
    "<CreateTime>" .. os.time() .. "</CreateTime><MsgType><![CDATA[text]]></MsgType>" ..
    "<Content><![CDATA[hello]]></Content><MsgId>" .. msgid .. "</MsgId></xml>"
  return wrk.format("POST", "/?" .. query, {["Content-Type"] = "text/xml"}, body)
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("status " .. status .. ": " .. body .. "\n")
  end
end
